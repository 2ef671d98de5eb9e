import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, watch, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection, type RawResponse, requestOnce } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { createDiskGuard, PROBE_CACHE_MS } from './disk.js';

/**
 * A full and a read-only disk under a running server (SQLite): a small tmpfs filled to the last
 * byte, and an ext4 loop device that goes read-only the way a failing disk does (errors=remount-ro,
 * then an ext4 error). Both need root to mount; CI runs as root, so they are skipped only outside CI.
 */
const isRoot = process.getuid?.() === 0;
const inCi = process.env.CI === 'true' || process.env.CI === '1';
if (!isRoot && !inCi) console.warn('SKIPPING full/read-only disk tests: mounting a tmpfs and a loop device needs root. They run in CI.');

const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString().trim();

/** Fills the filesystem holding `dir` until writes fail with ENOSPC; returns the filler file. */
function fillDisk(dir: string, name = 'filler'): string {
  const filler = path.join(dir, name);
  const fd = openSync(filler, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const errorOf = (r: { body: Buffer | unknown }) => (Buffer.isBuffer(r.body) ? JSON.parse(r.body.toString()) : r.body).error;

describe('the disk reserve', () => {
  it('is kept at its size, given up only for a write that failed for space, and shrinks with its setting', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-reserve-'));
    try {
      const guard = createDiskGuard(dir, 256 * 1024);
      expect(await guard.refill()).toBe(true);
      const reserve = readFileSync(guard.reservePath);
      expect(reserve.length).toBe(256 * 1024);
      expect(reserve.some((b) => b !== 0)).toBe(true);
      const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      const other = Object.assign(new Error('no such table'), { code: 'SQLITE_ERROR' });
      // Another failure is not the disk's: the reserve stays.
      await expect(guard.withReserve(async () => Promise.reject(other))).rejects.toBe(other);
      expect(statSync(guard.reservePath).size).toBe(256 * 1024);
      // A write that failed for space gets the reserve and one more try.
      let tries = 0;
      expect(await guard.withReserve(async () => (++tries === 1 ? Promise.reject(full) : 'deleted'))).toBe('deleted');
      expect([tries, statSync(guard.reservePath).size]).toEqual([2, 0]);
      // With the reserve already given up, there is nothing more to give.
      await expect(guard.withReserve(async () => Promise.reject(full))).rejects.toBe(full);
      expect(await guard.refill()).toBe(true);
      expect(statSync(guard.reservePath).size).toBe(256 * 1024);
      expect(await guard.probe()).toBe('ok');
      expect(await createDiskGuard(dir, 64 * 1024).refill()).toBe(true);
      expect(statSync(guard.reservePath).size).toBe(64 * 1024);
      expect(await createDiskGuard(dir, 0).refill()).toBe(true);
      expect(existsSync(guard.reservePath)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Watches a data dir for the health probe's file: every probe creates it and removes it again,
 * two 'rename' events (inotify) per probe write.
 */
function watchProbes(dir: string) {
  const renames: string[] = [];
  const seen = new Map<string, () => void>();
  const watcher = watch(dir, (type, name) => {
    if (!name) return;
    if (type === 'rename' && name.startsWith('.disk-probe-')) renames.push(name);
    seen.get(name)?.();
  });
  return {
    /** Probe writes so far: inotify reports in order, so once a marker written now is seen, so is every earlier event. */
    async writes(): Promise<number> {
      const marker = `.marker-${renames.length}-${Date.now()}`;
      const arrived = new Promise<void>((resolve) => seen.set(marker, resolve));
      writeFileSync(path.join(dir, marker), '');
      await arrived;
      unlinkSync(path.join(dir, marker));
      return renames.length / 2;
    },
    close: () => watcher.close(),
  };
}

/** Runs `fn` with the server's clock moved past the probe's cache time (then puts it back). */
async function afterProbeCache<T>(server: TestServer, fn: () => Promise<T>): Promise<T> {
  const clock = server.core.clock as { now: () => number };
  const original = clock.now;
  clock.now = () => Date.now() + PROBE_CACHE_MS;
  try {
    return await fn();
  } finally {
    clock.now = original;
  }
}

describe('the health probe', () => {
  it('50 concurrent health checks share one probe write; its answer stands for the cache time', async () => {
    const server = await startTestServer('sqlite');
    const probes = watchProbes(server.dataDir);
    try {
      const paths = Array.from({ length: 50 }, (_, i) => (i % 2 ? '/health' : '/api/ready'));
      const answers = await Promise.all(paths.map((p) => requestOnce(server.port, [`GET ${p} HTTP/1.1`])));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      expect(await probes.writes()).toBe(1);
      // Asked again within the cache time: the same answer, no write.
      expect((await api(server.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
      expect(await probes.writes()).toBe(1);
      // Past it, the next check probes again.
      await afterProbeCache(server, async () => expect((await api(server.url, 'GET', '/api/ready')).status).toBe(200));
      expect(await probes.writes()).toBe(2);
      expect(readdirSync(server.dataDir).filter((n) => n.startsWith('.disk-probe-'))).toEqual([]);
    } finally {
      probes.close();
      await server.close();
    }
  });

  it('probe files a crash left (older than a minute) are removed at start; a fresh one is not', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-probes-'));
    try {
      const stale = path.join(dir, '.disk-probe-4242-0123456789ab');
      const fresh = path.join(dir, '.disk-probe-4343-ba9876543210');
      writeFileSync(stale, Buffer.alloc(64 * 1024));
      writeFileSync(fresh, Buffer.alloc(64 * 1024));
      const twoMinutesAgo = (Date.now() - 120_000) / 1000;
      utimesSync(stale, twoMinutesAgo, twoMinutesAgo);
      const server = await startTestServer('sqlite', { PLAZA_DATA_DIR: dir });
      await server.close();
      expect([existsSync(stale), existsSync(fresh)]).toEqual([false, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot && !inCi)('a disk that fills up or turns read-only under a running server (SQLite)', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err) => console.error('cleanup failed:', err));
  });

  function tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  function mount(args: string[], target: string) {
    sh('mount', ...args, target);
    cleanups.push(() => void sh('umount', target));
  }
  async function serverOn(dataDir: string, env: Record<string, string> = {}) {
    // The default reserve (8 MiB), which the test helper otherwise shrinks.
    const server = await startTestServer('sqlite', { PLAZA_DATA_DIR: dataDir, PLAZA_DISK_RESERVE_BYTES: String(8 * 1024 * 1024), ...env });
    cleanups.push(() => server.close().catch(() => {}));
    return server;
  }

  describe('full disk (tmpfs)', () => {
    let server: TestServer;
    let dir: string;
    let user: Awaited<ReturnType<typeof registerAndLogin>>;
    let chat: ChatClient;
    let room: number;
    let files: any[];
    let tusLocation: string;
    let filler: string;
    const fillers: string[] = [];

    beforeAll(async () => {
      dir = tempDir('plaza-full-');
      mount(['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs'], dir);
      server = await serverOn(dir);
      user = await registerAndLogin(server.url, 'filler');
      const up = await uploadMultipart(server.url, user.accessToken, [
        { name: 'small.txt', data: Buffer.from('small') },
        { name: 'big.bin', data: Buffer.alloc(4 * 1024 * 1024, 7) },
        { name: 'dot.png', data: PNG },
      ]);
      files = up.body.files;
      chat = await ChatClient.open(server.url, { token: user.accessToken });
      cleanups.push(() => chat.close());
      room = (await chat.request({ type: 'create', name: 'general' })).room.id;
      expect(await chat.request({ type: 'send', room, body: 'before the disk filled', clientId: 'pre-full' })).toMatchObject({ type: 'ack' });
      const created = await api(server.url, 'POST', '/api/files/tus', {
        token: user.accessToken,
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '100000', 'upload-metadata': `filename ${b64('resume.bin')}` },
      });
      tusLocation = created.headers.get('location') ?? '';
      filler = fillDisk(dir);
    });

    it('chat sends, logins and uploads answer 507 STORAGE_FULL (a frame with the code on the socket)', async () => {
      const sent = await chat.request({ type: 'send', room, body: 'on a full disk', clientId: 'on-full' });
      // The client learns which message was not stored, to keep it pending and resend it.
      expect(sent).toMatchObject({ type: 'error', code: 'STORAGE_FULL', clientId: 'on-full' });
      expect(sent.message).toMatch(/storage|space/i);
      const login = await api(server.url, 'POST', '/api/auth/login', { json: { identifier: 'filler', password: PASSWORD } });
      expect([login.status, login.body.error?.code]).toEqual([507, 'STORAGE_FULL']);
      const bearer = `Authorization: Bearer ${user.accessToken}`;
      const raw = await requestOnce(server.port, ['POST /api/files/raw HTTP/1.1', bearer, 'Content-Type: application/octet-stream', 'File-Name: more.txt'], 'hello');
      expect([raw.status, errorOf(raw).code]).toEqual([507, 'STORAGE_FULL']);
      const multi = await uploadMultipart(server.url, user.accessToken, [{ name: 'more.txt', data: Buffer.from('hello') }]);
      expect([multi.status, multi.body.error.code]).toEqual([507, 'STORAGE_FULL']);
      // A thumbnail that cannot be written is the disk's fault, not an unreadable image.
      const thumb = await api(server.url, 'GET', `/api/files/${files[2].id}/thumbnail?size=64`, { token: user.accessToken });
      expect([thumb.status, thumb.body.error.code]).toEqual([507, 'STORAGE_FULL']);
    });

    it('tus answers 507 JSON and leaves nothing behind; an unfinished upload resumes once there is room', async () => {
      const tusDir = path.join(dir, 'uploads', '.tus');
      const before = readdirSync(tusDir).sort();
      const created = await requestOnce(server.port, [
        'POST /api/files/tus HTTP/1.1',
        `Authorization: Bearer ${user.accessToken}`,
        'Tus-Resumable: 1.0.0',
        'Upload-Length: 10',
        `Upload-Metadata: filename ${b64('new.bin')}`,
      ]);
      expect(created.status).toBe(507);
      expect(created.headers['content-type']).toMatch(/^application\/json/);
      expect(errorOf(created).code).toBe('STORAGE_FULL');
      expect(readdirSync(tusDir).sort()).toEqual(before);
      const patch = await requestOnce(
        server.port,
        [`PATCH ${tusLocation} HTTP/1.1`, `Authorization: Bearer ${user.accessToken}`, 'Tus-Resumable: 1.0.0', 'Upload-Offset: 0', 'Content-Type: application/offset+octet-stream'],
        'x'.repeat(50_000),
      );
      expect([patch.status, errorOf(patch).code]).toEqual([507, 'STORAGE_FULL']);
      const head = await api(server.url, 'HEAD', tusLocation, { token: user.accessToken, headers: { 'tus-resumable': '1.0.0' } });
      expect(head.status).toBe(200);
    });

    it('health reports degraded with the reason while writes fail', async () => {
      const health = await api(server.url, 'GET', '/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'degraded', storage: 'full' });
      const ready = await api(server.url, 'GET', '/api/ready');
      expect(ready.status).toBe(503);
      expect(ready.headers.get('retry-after')).toBeTruthy();
      expect(ready.body).toMatchObject({ status: 'degraded', database: { status: 'up' }, storage: { status: 'full' } });
    });

    it('deletes still work on the full disk, freeing space, also once the reserve is spent', async () => {
      for (const [i, f] of files.entries()) {
        // The first delete spends the reserve; the space each one frees is taken again before the next.
        if (i > 0) fillers.push(fillDisk(dir, `filler-${i}`));
        const del = await api(server.url, 'DELETE', `/api/files/${f.id}`, { token: user.accessToken });
        expect(del.status, f.name).toBe(200);
        expect(existsSync(path.join(dir, 'uploads', f.category, f.filename))).toBe(false);
      }
      const list = await api(server.url, 'GET', '/api/files', { token: user.accessToken });
      expect(list.body.total).toBe(0);
    });

    it('recovers by itself once space returns: healthy, sends, logins and uploads work', async () => {
      for (const f of [filler, ...fillers]) unlinkSync(f);
      await afterProbeCache(server, async () => {
        expect((await api(server.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
        expect((await api(server.url, 'GET', '/api/ready')).body).toMatchObject({ status: 'ready', storage: { status: 'ok' } });
      });
      expect(await chat.request({ type: 'send', room, body: 'on a full disk', clientId: 'on-full' })).toMatchObject({ type: 'ack', duplicate: false });
      expect(await chat.request({ type: 'send', room, body: 'space again' })).toMatchObject({ type: 'ack' });
      // What was acknowledged before stays; the resent one is stored once.
      const history = await chat.request({ type: 'history', room });
      expect(history.messages.map((m: { body: string }) => m.body)).toEqual(['before the disk filled', 'on a full disk', 'space again']);
      expect((await api(server.url, 'POST', '/api/auth/login', { json: { identifier: 'filler', password: PASSWORD } })).status).toBe(200);
      expect((await uploadMultipart(server.url, user.accessToken, [{ name: 'after.txt', data: Buffer.from('ok') }])).status).toBe(201);
      const tusHeaders = { 'tus-resumable': '1.0.0' };
      const offset = Number((await api(server.url, 'HEAD', tusLocation, { token: user.accessToken, headers: tusHeaders })).headers.get('upload-offset'));
      const done = await api(server.url, 'PATCH', tusLocation, {
        token: user.accessToken,
        headers: { ...tusHeaders, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        body: 'y'.repeat(100_000 - offset),
      });
      expect(done.status).toBe(200);
      expect(done.body.file).toMatchObject({ name: 'resume.bin', size: 100_000 });
    });
  });

  it('a disk that fills up behind a healthy cached answer is reported degraded once the answer is the cache time old', async () => {
    const dir = tempDir('plaza-fills-');
    mount(['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs'], dir);
    const server = await serverOn(dir);
    expect((await api(server.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
    const filler = fillDisk(dir);
    const [health, ready] = await afterProbeCache(server, async () => [await api(server.url, 'GET', '/health'), await api(server.url, 'GET', '/api/ready')]);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'degraded', storage: 'full' });
    expect([ready.status, ready.body.storage]).toEqual([503, { status: 'full' }]);
    unlinkSync(filler);
    await server.close();
  });

  describe('read-only disk (ext4 loop device that hits an error)', () => {
    let server: TestServer;
    let user: Awaited<ReturnType<typeof registerAndLogin>>;
    let chat: ChatClient;
    let room: number;
    let file: any;

    beforeAll(async () => {
      const work = tempDir('plaza-ro-');
      const image = path.join(work, 'disk.img');
      const dir = path.join(work, 'mnt');
      mkdirSync(dir);
      sh('truncate', '-s', '64M', image);
      sh('mkfs.ext4', '-q', '-F', image);
      mount(['-o', 'loop,errors=remount-ro', image], dir);
      const device = path.basename(sh('findmnt', '-no', 'SOURCE', dir));
      server = await serverOn(dir);
      user = await registerAndLogin(server.url, 'reader');
      file = (await uploadMultipart(server.url, user.accessToken, [{ name: 'kept.txt', data: Buffer.from('kept') }])).body.files[0];
      chat = await ChatClient.open(server.url, { token: user.accessToken });
      cleanups.push(() => chat.close());
      room = (await chat.request({ type: 'create', name: 'general' })).room.id;
      // What a failing disk does: ext4 records an error and remounts itself read-only (EROFS).
      writeFileSync(`/sys/fs/ext4/${device}/trigger_fs_error`, '1');
    });

    it('chat sends get DATABASE_UNAVAILABLE; logins and deletes 503 with Retry-After', async () => {
      const sent = await chat.request({ type: 'send', room, body: 'read-only', clientId: 'ro-1' });
      expect(sent).toMatchObject({ type: 'error', code: 'DATABASE_UNAVAILABLE', retryAfter: 2, clientId: 'ro-1' });
      expect(sent.message).not.toMatch(/something went wrong/i);
      for (const r of [
        await api(server.url, 'POST', '/api/auth/login', { json: { identifier: 'reader', password: PASSWORD } }),
        await api(server.url, 'DELETE', `/api/files/${file.id}`, { token: user.accessToken }),
      ]) {
        expect([r.status, r.body.error.code]).toEqual([503, 'DATABASE_UNAVAILABLE']);
        expect(r.headers.get('retry-after')).toBeTruthy();
      }
    });

    it('uploads are answered 503 STORAGE_UNAVAILABLE with Retry-After, never a dropped connection', async () => {
      const bearer = `Authorization: Bearer ${user.accessToken}`;
      const answers = [
        await requestOnce(server.port, ['POST /api/files/raw HTTP/1.1', bearer, 'Content-Type: application/octet-stream', 'File-Name: ro.txt'], 'hello'),
        await requestOnce(server.port, ['POST /upload HTTP/1.1', bearer, 'Content-Type: application/octet-stream', 'File-Name: ro.txt'], 'hello'),
        await requestOnce(server.port, ['POST /api/files/tus HTTP/1.1', bearer, 'Tus-Resumable: 1.0.0', 'Upload-Length: 10', `Upload-Metadata: filename ${b64('ro.bin')}`]),
      ];
      for (const r of answers) {
        expect(r.status, r.raw.toString().slice(0, 200)).toBe(503);
        expect(r.headers['retry-after']).toBeTruthy();
      }
      expect(errorOf(answers[0] as RawResponse).code).toBe('STORAGE_UNAVAILABLE');
      expect(errorOf(answers[2] as RawResponse).code).toBe('STORAGE_UNAVAILABLE');
      const multi = await uploadMultipart(server.url, user.accessToken, [{ name: 'ro.txt', data: Buffer.from('x') }]);
      expect([multi.status, multi.body.error.code]).toEqual([503, 'STORAGE_UNAVAILABLE']);
    });

    it('health reports degraded: storage read-only', async () => {
      const health = await api(server.url, 'GET', '/health');
      expect([health.status, health.body.status, health.body.storage]).toEqual([503, 'degraded', 'read-only']);
      const ready = await api(server.url, 'GET', '/api/ready');
      expect(ready.body).toMatchObject({ status: 'degraded', storage: { status: 'read-only' } });
    });
  });

  it('an upload that cannot open its temp file (EMFILE) gets a 503 answer, not a dropped connection', async () => {
    const server = await serverOn(tempDir('plaza-emfile-'));
    const user = await registerAndLogin(server.url, 'opener');
    const c = await RawConnection.open(server.port);
    cleanups.push(() => c.close());
    // Lower this process's descriptor limit a little above what is open, then take the rest.
    const open = readdirSync('/proc/self/fd').length;
    const [soft, hard] = sh('prlimit', '--pid', String(process.pid), '--nofile', '--noheadings', '--output', 'SOFT,HARD').split(/\s+/);
    sh('prlimit', '--pid', String(process.pid), `--nofile=${open + 64}:${hard}`);
    const taken: number[] = [];
    let answer: RawResponse;
    try {
      try {
        for (;;) taken.push(openSync('/dev/null', 'r'));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('EMFILE');
      }
      answer = await c.request(
        `POST /api/files/raw HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.accessToken}\r\nContent-Type: application/octet-stream\r\nFile-Name: fd.txt\r\nContent-Length: 5\r\n\r\nhello`,
      );
    } finally {
      for (const fd of taken) closeSync(fd);
      sh('prlimit', '--pid', String(process.pid), `--nofile=${soft}:${hard}`);
    }
    expect([answer.status, errorOf(answer).code]).toEqual([503, 'STORAGE_UNAVAILABLE']);
    expect(answer.headers['retry-after']).toBeTruthy();
    expect((await uploadMultipart(server.url, user.accessToken, [{ name: 'fd.txt', data: Buffer.from('x') }])).status).toBe(201);
  });
});
