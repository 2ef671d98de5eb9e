// plaza download with the built binary (no terminal): by name or id, resumed from a partial file
// (written by hand or left by a killed process), SHA-256 checked, server-sent names that try to
// leave the chosen directory, and a whole flow on PostgreSQL.
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser, jsonOf, stubProfile } from './helpers/client.js';
import { testDatabases } from './helpers/databases.js';
import { serveProcess } from './helpers/process.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const servers: TestServer[] = [];
const users: ClientUser[] = [];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let base: string;

async function loggedIn(name: string, url = base): Promise<ClientUser> {
  const u = clientUser(url);
  users.push(u);
  const r = await u.run(['register', name, '--password-stdin'], { input: PASSWORD });
  if (r.code !== 0) throw new Error(r.stderr);
  return u;
}

async function uploaded(u: ClientUser, name: string, data: Buffer) {
  writeFileSync(path.join(u.home, 'work', name), data);
  const r = await u.run(['upload', name, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return jsonOf(r).files[0] as { id: string; sha256: string };
}

beforeAll(async () => {
  const s = await startTestServer();
  servers.push(s);
  base = `http://127.0.0.1:${s.port}`;
});
afterAll(async () => {
  for (const u of users) u.cleanup();
  for (const s of servers) await s.close();
});

/** Runs `download` and, once its part file holds 4 MiB, does `cut`; resolves with the run. */
async function cutMidway(u: ClientUser, args: string[], cwd: string, part: string, cut: (child: import('node:child_process').ChildProcess) => void | Promise<void>) {
  const { child, done } = u.start(args, { cwd });
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  while (!finished && !(existsSync(part) && statSync(part).size >= 4 * 1024 * 1024)) await new Promise((r) => setTimeout(r, 2));
  expect(finished).toBe(false);
  await cut(child);
  return done;
}

describe('plaza download', () => {
  it('by name or id, into the current directory, a directory, or a file path; never over a file without --force', async () => {
    const u = await loggedIn('dora');
    const data = randomBytes(50_000);
    const f = await uploaded(u, 'report.bin', data);
    const out = path.join(u.home, 'out');
    mkdirSync(out);
    const byName = await u.run(['download', 'report.bin'], { cwd: out });
    expect(byName.stderr).toBe('');
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(`Downloaded report.bin (49 KiB) to ${path.join(out, 'report.bin')}; SHA-256 verified.\n`);
    expect(readFileSync(path.join(out, 'report.bin')).equals(data)).toBe(true);

    const again = await u.run(['download', 'report.bin'], { cwd: out });
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('--force');
    expect((await u.run(['download', 'report.bin', '--force'], { cwd: out })).code).toBe(0);

    const sub = path.join(u.home, 'sub');
    mkdirSync(sub);
    const byId = jsonOf(await u.run(['download', f.id, '-o', sub, '--json']));
    expect(byId).toMatchObject({ path: path.join(sub, 'report.bin'), resumedFrom: 0, sha256: sha(data) });
    const named = jsonOf(await u.run(['download', f.id, '-o', path.join(sub, 'renamed.bin'), '--json']));
    expect(named.path).toBe(path.join(sub, 'renamed.bin'));
    expect(readFileSync(named.path).equals(data)).toBe(true);

    const unknown = await u.run(['download', 'no-such-file.txt']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toBe('No file named "no-such-file.txt". See `plaza files`.\n');
    expect((await u.run(['download', 'fil_doesnotexist00'])).code).toBe(4);
  });

  it('resumes a partial file with Range; a partial file with wrong bytes fails the SHA-256 check and is removed', async () => {
    const u = await loggedIn('paula');
    const data = randomBytes(300_000);
    await uploaded(u, 'data.bin', data);
    const out = path.join(u.home, 'out');
    mkdirSync(out);
    writeFileSync(path.join(out, 'data.bin.part'), data.subarray(0, 100_000));
    const r = jsonOf(await u.run(['download', 'data.bin', '--json'], { cwd: out }));
    expect(r.resumedFrom).toBe(100_000);
    expect(readFileSync(path.join(out, 'data.bin')).equals(data)).toBe(true);
    expect(existsSync(path.join(out, 'data.bin.part'))).toBe(false);

    const bad = Buffer.from(data.subarray(0, 100_000));
    bad[5] = (bad[5] ?? 0) ^ 0xff;
    writeFileSync(path.join(out, 'again.bin.part'), bad);
    const broken = await u.run(['download', 'data.bin', '-o', path.join(out, 'again.bin')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("do not match the server's SHA-256");
    expect(existsSync(path.join(out, 'again.bin.part'))).toBe(false);
    expect(existsSync(path.join(out, 'again.bin'))).toBe(false);
    expect((await u.run(['download', 'data.bin', '-o', path.join(out, 'again.bin')])).code).toBe(0);
    expect(readFileSync(path.join(out, 'again.bin')).equals(data)).toBe(true);
  });

  it('a full disk: one sentence, exit 8, the partial file kept; with room again the next run resumes it', async () => {
    const u = await loggedIn('fiona');
    const data = randomBytes(3 * 1024 * 1024);
    await uploaded(u, 'wide.bin', data);
    const small = mkdtempSync(path.join(tmpdir(), 'plaza-full-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`mount: ${m.stderr}`);
    try {
      const r = await u.run(['download', 'wide.bin', '-o', small]);
      expect(r.code).toBe(8);
      expect(r.stderr).toBe(`The disk is full. The partial download is kept at ${path.join(small, 'wide.bin.part')}; free some space and run the command again to resume.\n`);
      const kept = readFileSync(path.join(small, 'wide.bin.part'));
      expect(kept.length).toBeGreaterThan(0);
      const roomy = path.join(u.home, 'roomy');
      mkdirSync(roomy);
      writeFileSync(path.join(roomy, 'wide.bin.part'), kept);
      const again = jsonOf(await u.run(['download', 'wide.bin', '-o', roomy, '--json']));
      expect(again.resumedFrom).toBe(kept.length);
      expect(readFileSync(path.join(roomy, 'wide.bin')).equals(data)).toBe(true);
    } finally {
      spawnSync('umount', [small]);
      rmSync(small, { recursive: true, force: true });
    }
  });

  it('a download killed mid-way keeps its partial file and the next run resumes it', async () => {
    const u = await loggedIn('kilian');
    const data = randomBytes(160 * 1024 * 1024);
    await uploaded(u, 'huge.bin', data);
    const out = path.join(u.home, 'out');
    mkdirSync(out);
    const part = path.join(out, 'huge.bin.part');
    await cutMidway(u, ['download', 'huge.bin', '--json'], out, part, (child) => {
      child.kill('SIGKILL');
    });
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    const r = await u.run(['download', 'huge.bin', '--json'], { cwd: out });
    expect(r.code).toBe(0);
    expect(jsonOf(r).resumedFrom).toBe(kept);
    expect(sha(readFileSync(path.join(out, 'huge.bin')))).toBe(sha(data));
  }, 60_000);
});

describe('plaza download: cut and resumed', () => {
  it('a server restart mid-download: exit 7 and the partial kept; the next run resumes it with Range to the right SHA-256', async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'plaza-dl-restart-')), 'data');
    const env = { PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent', PLAZA_DISK_RESERVE_BYTES: '65536' };
    let served = await serveProcess(env);
    try {
      const u = await loggedIn('rhea', served.url);
      const data = randomBytes(128 * 1024 * 1024);
      await uploaded(u, 'restart.bin', data);
      const out = path.join(u.home, 'out');
      mkdirSync(out);
      const part = path.join(out, 'restart.bin.part');
      const cut = await cutMidway(u, ['download', 'restart.bin'], out, part, async () => {
        // The server goes away under the transfer (a crash or a restart), then comes back on its port.
        served.child.kill('SIGKILL');
        await served.exited;
      });
      expect(cut.code).toBe(7);
      expect(cut.stderr).toMatch(/^The download from http:\/\/127\.0\.0\.1:\d+ was cut \(.+\)\. The partial file is kept; run the command again to resume\.\n$/);
      const kept = statSync(part).size;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(data.length);
      // What was kept is the file's own first bytes, not a torn write.
      expect(readFileSync(part).equals(data.subarray(0, kept))).toBe(true);
      served = await serveProcess({ ...env, PLAZA_PORT: String(served.port) });
      const again = await u.run(['download', 'restart.bin', '--json'], { cwd: out });
      expect(again.stderr).toBe('');
      expect(jsonOf(again)).toMatchObject({ resumedFrom: kept, sha256: sha(data) });
      expect(sha(readFileSync(path.join(out, 'restart.bin')))).toBe(sha(data));
      expect(existsSync(part)).toBe(false);
    } finally {
      served.child.kill('SIGKILL');
      await served.exited;
      rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  }, 90_000);

  it('Ctrl-C (SIGINT) mid-download: exit 1, "partial file kept" (also as --json), and the next run resumes it', async () => {
    const u = await loggedIn('sigrid');
    const data = randomBytes(128 * 1024 * 1024);
    await uploaded(u, 'ctrlc.bin', data);
    const out = path.join(u.home, 'out');
    mkdirSync(out);
    const part = path.join(out, 'ctrlc.bin.part');
    const r = await cutMidway(u, ['download', 'ctrlc.bin', '--json'], out, part, (child) => {
      child.kill('SIGINT');
    });
    expect(r.code).toBe(1);
    expect(r.signal).toBe(null);
    expect(r.stderr).toBe('Interrupted; the partial file is kept. Run the same command again to resume.\n');
    expect(jsonOf(r)).toEqual({ error: { code: 'INTERRUPTED', message: 'Interrupted; the partial file is kept. Run the same command again to resume.' } });
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(readFileSync(part).equals(data.subarray(0, kept))).toBe(true);
    const again = jsonOf(await u.run(['download', 'ctrlc.bin', '--json'], { cwd: out }));
    expect(again.resumedFrom).toBe(kept);
    expect(sha(readFileSync(path.join(out, 'ctrlc.bin')))).toBe(sha(data));
  }, 90_000);
});

describe('plaza download: names a server sends', () => {
  let stub: Server;
  let stubUrl: string;
  const body = Buffer.from('not yours\n');
  const evil: Record<string, string> = {
    fil_dotdot: '../../escaped.txt',
    fil_abs: '/tmp/plaza-abs-escape.txt',
    fil_backslash: '..\\..\\windows.txt',
    fil_dots: '..',
    fil_ctrl: 'bell\u0007name.txt',
  };

  beforeAll(async () => {
    // A hostile or broken server: it answers every file request with these names.
    stub = createServer((req, res) => {
      const m = /^\/api\/files\/(fil_\w+)(\/content)?$/.exec(req.url ?? '');
      const name = m ? evil[m[1] as string] : undefined;
      if (!m || name === undefined || req.headers.authorization !== 'Bearer stub-token') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"No such file"}}');
        return;
      }
      if (m[2]) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
        return;
      }
      const file = { id: m[1], name, category: 'files', size: body.length, sha256: sha(body), mime: 'text/plain', createdAt: 0, updatedAt: 0 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ file }));
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const a = stub.address();
    stubUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => stub.close(() => r())));

  it('`../`, absolute, backslash, dot and control-character names all land inside the chosen directory', async () => {
    const u = clientUser(stubUrl);
    users.push(u);
    stubProfile(u, stubUrl, 'x', 'stub-token');
    const target = path.join(u.home, 'deep', 'inside');
    mkdirSync(target, { recursive: true });
    const got: string[] = [];
    for (const id of Object.keys(evil)) {
      const r = await u.run(['download', id, '-o', target, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const p = jsonOf(r).path as string;
      expect(path.dirname(p)).toBe(target);
      got.push(path.basename(p));
    }
    expect(got).toEqual(['escaped.txt', 'plaza-abs-escape.txt', 'windows.txt', 'fil_dots', 'bellname.txt']);
    expect(readdirSync(target).sort()).toEqual([...got].sort());
    expect(existsSync(path.join(u.home, 'escaped.txt'))).toBe(false);
    expect(existsSync(path.join(u.home, 'deep', 'escaped.txt'))).toBe(false);
    expect(existsSync('/tmp/plaza-abs-escape.txt')).toBe(false);
  });
});

describe('the client on PostgreSQL', async () => {
  const dbs = await testDatabases();
  it.runIf(dbs.includes('postgres'))('register, upload, list, download, rm, logout', async () => {
    const s = await startTestServer('postgres');
    servers.push(s);
    const u = await loggedIn('pgpat', `http://127.0.0.1:${s.port}`);
    const data = randomBytes(200_000);
    const f = await uploaded(u, 'pg.bin', data);
    expect(f.sha256).toBe(sha(data));
    const list = jsonOf(await u.run(['files', '--json']));
    expect(list).toMatchObject({ total: 1, files: [{ name: 'pg.bin', size: data.length }] });
    const d = await u.run(['download', 'pg.bin', '--json', '-o', u.home]);
    expect(d.code).toBe(0);
    expect(readFileSync(jsonOf(d).path).equals(data)).toBe(true);
    expect((await u.run(['rm', f.id])).code).toBe(0);
    expect((await u.run(['logout'])).code).toBe(0);
    expect((await u.run(['files'])).code).toBe(6);
  });
});

describe('plaza images get', () => {
  /** What the server answered, seen from its own side: every request's path, status, key header and body bytes. */
  function serverSide(s: TestServer) {
    const seen: Array<{ method: string; path: string; status: number; bodyBytes: number; key: boolean; inm: boolean }> = [];
    const listener = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let bytes = 0;
      const count = (chunk: unknown) => {
        if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
        else if (chunk instanceof Uint8Array) bytes += chunk.length;
      };
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        count(chunk);
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof res.write;
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (typeof chunk !== 'function') count(chunk);
        return (end as (...a: unknown[]) => typeof res)(chunk, ...rest);
      }) as typeof res.end;
      res.on('finish', () =>
        seen.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status: res.statusCode, bodyBytes: bytes, key: req.headers['x-plaza-key'] !== undefined, inm: req.headers['if-none-match'] !== undefined }),
      );
    };
    s.app.server.prependListener('request', listener);
    return { seen, stop: () => s.app.server.off('request', listener) };
  }

  it("through seed 000's access key: elevates once, GET /images with the key; the second view is a 304 with no body, counted on the server", async () => {
    const { PNG } = await import('./helpers/files.js');
    const u = await loggedIn('kira');
    const f = await uploaded(u, 'seen.png', PNG);
    const watch = serverSide(servers[0] as TestServer);
    try {
      const first = jsonOf(await u.run(['images', 'get', 'seen.png', '--json']));
      expect(first).toMatchObject({ cached: false, file: { id: f.id } });
      expect(readFileSync(first.path).equals(PNG)).toBe(true);
      const second = jsonOf(await u.run(['images', 'get', 'seen.png', '--json']));
      expect(second).toMatchObject({ cached: true, path: first.path });
      const images = watch.seen.filter((r) => r.path === '/images');
      expect(images).toEqual([
        { method: 'GET', path: '/images', status: 200, bodyBytes: PNG.length, key: true, inm: false },
        { method: 'GET', path: '/images', status: 304, bodyBytes: 0, key: true, inm: true },
      ]);
      // One elevation: the key is kept in the profile for the second view; never the native content route.
      expect(watch.seen.filter((r) => r.path === '/api/auth/elevate').map((r) => r.status)).toEqual([201]);
      expect(watch.seen.some((r) => r.path.endsWith('/content'))).toBe(false);
    } finally {
      watch.stop();
    }
    const profile = JSON.parse(readFileSync(path.join(u.configDir, 'plaza', 'profile.json'), 'utf8'));
    expect(profile.accessKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(u.configDir, 'plaza', 'profile.json')).mode & 0o777).toBe(0o600);
    // The key works for seed 000's own check too.
    const head = await fetch(`${base}/images`, { method: 'HEAD', headers: { 'x-plaza-key': profile.accessKey } });
    expect(head.status).toBe(200);
  });

  it('a key the server no longer takes is replaced once; a key held by another client is a sentence and exit 5', async () => {
    const { PNG } = await import('./helpers/files.js');
    const u = await loggedIn('lena');
    await uploaded(u, 'k.png', PNG);
    const file = path.join(u.configDir, 'plaza', 'profile.json');
    const p = JSON.parse(readFileSync(file, 'utf8'));
    // A forged key the profile believes in: the server says 401, the client elevates and retries.
    writeFileSync(file, JSON.stringify({ ...p, accessKey: 'f'.repeat(64), accessKeyExpiresAt: Date.now() + 3600_000 }), { mode: 0o600 });
    const r = await u.run(['images', 'get', 'k.png', '--json']);
    expect(r.stderr).toBe('');
    expect(jsonOf(r).cached).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).accessKey).not.toBe('f'.repeat(64));
    // Elevated elsewhere (the key is not in this profile) while the server's key is still valid.
    const other = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...other, accessKey: undefined, accessKeyExpiresAt: undefined }), { mode: 0o600 });
    rmSync(u.cacheDir, { recursive: true, force: true });
    const held = await u.run(['images', 'get', 'k.png']);
    expect(held.code).toBe(5);
    expect(held.stderr).toMatch(/^Your account is already elevated until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, but by another client \(the web app or another machine\): this one does not hold that key\. Run the command again after .+\.\n$/);
  });

  it('--open hands the cached file to the system viewer (xdg-open on PATH); without one it says so and still caches', async () => {
    const { PNG } = await import('./helpers/files.js');
    const u = await loggedIn('otto');
    await uploaded(u, 'view.png', PNG);
    const bin = path.join(u.home, 'bin');
    mkdirSync(bin);
    const opened = path.join(u.home, 'opened.txt');
    writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, { mode: 0o755 });
    const r = jsonOf(await u.run(['images', 'get', 'view.png', '--open', '--json'], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } }));
    expect(r.opened).toBe(true);
    const deadline = Date.now() + 5000;
    while (!existsSync(opened) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(readFileSync(opened, 'utf8')).toBe(r.path);
    const none = await u.run(['images', 'get', 'view.png', '--open'], { env: { PATH: '/nonexistent' } });
    expect(none.code).toBe(0);
    expect(none.stderr).toBe('No image viewer found (xdg-open); the file is in the cache.\n');
  });

  it('caches an image; a second view is a 304 (no body); a broken entry is a miss; the cache stays under its bound', async () => {
    const { PNG } = await import('./helpers/files.js');
    const u = await loggedIn('ines');
    const f = await uploaded(u, 'pixel.png', PNG);
    const first = jsonOf(await u.run(['images', 'get', 'pixel.png', '--json']));
    expect(first).toMatchObject({ cached: false, file: { id: f.id, mime: 'image/png' } });
    expect(readFileSync(first.path).equals(PNG)).toBe(true);
    expect(statSync(first.path).mode & 0o077).toBe(0);
    const second = await u.run(['images', 'get', f.id]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`pixel.png (${PNG.length} B, from the cache: not modified): ${first.path}\n`);
    writeFileSync(first.path, 'garbage');
    const repaired = jsonOf(await u.run(['images', 'get', 'pixel.png', '--json']));
    expect(repaired.cached).toBe(false);
    expect(readFileSync(repaired.path).equals(PNG)).toBe(true);

    const other = await uploaded(u, 'other.png', Buffer.concat([PNG, Buffer.alloc(0)]));
    const bounded = await u.run(['images', 'get', other.id, '--json'], { env: { PLAZA_CACHE_MAX_BYTES: String(PNG.length) } });
    expect(bounded.code).toBe(0);
    // Only the image just fetched is kept: the older entry was evicted.
    expect(readdirSync(path.dirname(first.path)).filter((n) => n.endsWith('.bin'))).toEqual([path.basename(jsonOf(bounded).path)]);
    const missing = await u.run(['images', 'get', 'nope.png']);
    expect(missing.code).toBe(4);
  });
});
