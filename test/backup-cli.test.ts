// plaza backup / plaza restore driven as an operator would: real processes on real SQLite files
// and real PostgreSQL schemas (required in CI), archives moved between the two.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/cli/commands/serve.js';
import { loadConfig } from '../src/config.js';
import { api, PASSWORD, registerAndLogin } from './helpers/api.js';
import { createPgSchema, type DbKind, PG_URL, testDatabases } from './helpers/databases.js';
import { PNG } from './helpers/files.js';
import { MAIN, serveProcess } from './helpers/process.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Target {
  kind: DbKind;
  dataDir: string;
  env: Record<string, string>;
}

async function target(kind: DbKind): Promise<Target> {
  const root = mkdtempSync(path.join(tmpdir(), 'plaza-backup-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const schema = kind === 'postgres' ? await createPgSchema() : undefined;
  if (schema) cleanups.push(() => schema.drop());
  const env: Record<string, string> = {
    PLAZA_DATA_DIR: dataDir,
    PLAZA_LOG_LEVEL: 'silent',
    PLAZA_DISK_RESERVE_BYTES: '65536',
    ...(schema ? { PLAZA_DATABASE_URL: PG_URL, PLAZA_DATABASE_SCHEMA: schema.schema } : {}),
  };
  return { kind, dataDir, env };
}

function plaza(args: string[], env: Record<string, string>, input = '') {
  return spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    input,
    encoding: 'utf8',
    cwd: tmpdir(),
    timeout: 60_000,
  });
}

/** An in-process server on the target for the length of `fn`. */
async function withServer<T>(t: Target, fn: (base: string) => Promise<T>): Promise<T> {
  const running = await startServer(loadConfig({ PLAZA_HOST: '127.0.0.1', PLAZA_PORT: '0', PLAZA_RATE_REGISTER_IP: '1000/1m', ...t.env }));
  const addr = running.app.server.address();
  try {
    return await fn(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
  } finally {
    await running.close();
  }
}

async function uploadRaw(base: string, token: string, name: string, data: Buffer): Promise<{ id: string }> {
  const res = await fetch(`${base}/api/files/raw`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'file-name': encodeURIComponent(name) },
    body: data,
  });
  const body = (await res.json()) as { file: { id: string } };
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(body)}`);
  return body.file;
}

/** Users, files (an image among them), a room with messages, a DM; returns alice's tokens. */
async function seed(t: Target, prefix = 'a') {
  return withServer(t, async (base) => {
    const alice = await registerAndLogin(base, `${prefix}lice`);
    const bob = await registerAndLogin(base, `${prefix}bob`);
    await uploadRaw(base, alice.accessToken, 'pixel.png', PNG);
    for (let i = 0; i < 4; i++) await uploadRaw(base, i % 2 ? bob.accessToken : alice.accessToken, `${prefix}${i}.bin`, randomBytes(30_000 + i * 4099));
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: alice.accessToken, json: { name: `${prefix}room` } })).body.room;
    await api(base, 'POST', `/api/chat/rooms/${room.id}/join`, { token: bob.accessToken });
    for (let i = 0; i < 12; i++) {
      const r = await api(base, 'POST', `/api/chat/rooms/${room.id}/messages`, { token: i % 2 ? bob.accessToken : alice.accessToken, json: { body: `${prefix} says ${i} ✓` } });
      expect(r.status).toBe(201);
    }
    await api(base, 'POST', '/api/chat/dms', { token: alice.accessToken, json: { user: `${prefix}bob` } });
    return { alice, bob, base };
  });
}

async function entriesOf(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) parts.push(c);
    out.set(entry.header.name, Buffer.concat(parts));
  }
  return out;
}

function backup(t: Target, output?: string): { archive: string; rowCounts: Record<string, number>; files: number } {
  const r = plaza(['backup', '--json', ...(output ? ['--output', output] : [])], t.env);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim());
}

const rowsOf = (b: Buffer | undefined) =>
  (b ?? Buffer.alloc(0)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * What a data dir holds, read through a fresh backup into a temp dir: row counts, the rows of the
 * tables a restore keeps as they were, every file's bytes by checksum; plus whether every stored
 * file on disk is one a row lists (nothing of another state left behind).
 */
async function stateOf(t: Target) {
  const out = mkdtempSync(path.join(tmpdir(), 'plaza-state-'));
  try {
    const b = backup(t, out);
    const entries = await entriesOf(b.archive);
    const manifest = JSON.parse(entries.get('manifest.json')?.toString() ?? '{}');
    const files = [...entries].filter(([n]) => n.startsWith('files/')).map(([n, v]) => `${n} ${createHash('sha256').update(v).digest('hex')}`).sort();
    const tables = Object.fromEntries(['users', 'files', 'share_links', 'chat_rooms', 'chat_members', 'chat_invites', 'chat_messages'].map((n) => [n, rowsOf(entries.get(`db/${n}.jsonl`))]));
    const onDisk = ['images', 'documents', 'files'].flatMap((c) => readdirSync(path.join(t.dataDir, 'uploads', c)).map((n) => `files/${c}/${n}`)).sort();
    return { rowCounts: manifest.rowCounts as Record<string, number>, missing: manifest.missing ?? [], files, tables, onDisk, sessions: rowsOf(entries.get('db/sessions.jsonl')) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Everything in a data dir that a refused or dry-run restore must leave alone. */
function fingerprint(t: Target): string {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) return [`${p}/`, ...walk(p)];
      return [`${p} ${statSync(p).size} ${d.name.startsWith('plaza.db') ? '' : createHash('sha256').update(readFileSync(p)).digest('hex')}`];
    });
  return walk(t.dataDir).filter((l) => !/\.disk-reserve|\.open-|plaza\.db-(wal|shm)/.test(l)).sort().join('\n');
}

const dbs = await testDatabases();
const pairs: Array<[DbKind, DbKind]> = [['sqlite', 'sqlite'], ...(dbs.includes('postgres') ? ([['sqlite', 'postgres'], ['postgres', 'sqlite'], ['postgres', 'postgres']] as Array<[DbKind, DbKind]>) : [])];

describe.each(pairs)('round trip %s → %s', (from, to) => {
  it('restores row for row and byte for byte; every restored session is revoked', async () => {
    const src = await target(from);
    const { alice } = await seed(src);
    const before = await stateOf(src);
    const { archive } = backup(src);
    const dst = await target(to);
    await seed(dst, 'z'); // something to replace
    const r = plaza(['restore', archive, '--yes', '--json'], dst.env);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim());
    expect(result).toMatchObject({ restored: true, checksums: 'verified', dialect: from, rowCounts: before.rowCounts });
    expect(existsSync(result.safetyBackup)).toBe(true);
    const after = await stateOf(dst);
    expect(after.rowCounts).toEqual(before.rowCounts);
    expect(after.tables).toEqual(before.tables);
    expect(after.files).toEqual(before.files);
    expect(after.files.length).toBe(5);
    expect(after.onDisk).toEqual(after.files.map((f) => f.split(' ')[0]));
    expect(after.sessions.length).toBe(before.sessions.length);
    expect(after.sessions.every((s) => typeof s.revoked_at === 'number')).toBe(true);
    // The restored server serves the restored users; their old tokens are dead, logins work, ids go on.
    await withServer(dst, async (base) => {
      expect((await api(base, 'GET', '/api/users/me', { token: alice.accessToken })).status).toBe(401);
      expect((await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: alice.refreshToken } })).status).toBe(401);
      const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'alice', password: PASSWORD } });
      expect(login.status).toBe(200);
      const files = await api(base, 'GET', '/api/files', { token: login.body.accessToken });
      // The list's total and the usage (file_totals, recounted by the restore) are the restored files', not the replaced ones'.
      const usage = await api(base, 'GET', '/api/files/usage', { token: login.body.accessToken });
      expect(files.body.total).toBe(3);
      expect(usage.body.usedBytes).toBe(files.body.files.reduce((n: number, f: { size: number }) => n + f.size, 0));
      const png = files.body.files.find((f: { name: string }) => f.name === 'pixel.png');
      const content = await fetch(`${base}/api/files/${png.id}/content`, { headers: { authorization: `Bearer ${login.body.accessToken}` } });
      expect(Buffer.from(await content.arrayBuffer()).equals(PNG)).toBe(true);
      const carol = await registerAndLogin(base, 'carol');
      expect(carol.user.id).toBeGreaterThan(Math.max(...(before.tables.users ?? []).map((u) => Number(u.id))));
    });
  });
});

describe('dry runs', () => {
  it.each(dbs)('--dry-run verifies and shows what would be replaced, and changes nothing (%s)', async (kind) => {
    const t = await target(kind);
    await seed(t);
    const { archive } = backup(t);
    await seed(t, 'q');
    const before = fingerprint(t);
    const rowsBefore = await stateOf(t);
    const r = plaza(['restore', '--dry-run'], t.env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(archive);
    expect(r.stdout).toMatch(/Checksums:\s+verified/);
    expect(r.stdout).toMatch(/users\s+2\s+4/);
    expect(r.stdout).toMatch(/chat_messages\s+12\s+24/);
    expect(r.stdout).toContain('Dry run: nothing was changed.');
    const j = plaza(['restore', path.basename(archive), '--dry-run', '--json'], t.env);
    expect(JSON.parse(j.stdout)).toMatchObject({ dryRun: true, checksums: 'verified', files: { count: 5 }, current: { files: 10 } });
    expect(fingerprint(t)).toBe(before);
    const rowsAfter = await stateOf(t);
    expect(rowsAfter.tables).toEqual(rowsBefore.tables);
    expect(rowsAfter.sessions).toEqual(rowsBefore.sessions);
  });

});

describe('restore on SQLite', () => {
  it('an archive without files leaves no file of the replaced state behind', async () => {
    const t = await target('sqlite');
    expect(plaza(['migrate'], t.env).status).toBe(0);
    const { archive } = backup(t);
    await seed(t);
    expect(plaza(['restore', archive, '--yes'], t.env).status).toBe(0);
    const after = await stateOf(t);
    expect(after.rowCounts.users).toBe(0);
    expect(after.onDisk).toEqual([]);
  });

  it('old sessions of the same data dir are revoked by a restore', async () => {
    const t = await target('sqlite');
    const { alice } = await seed(t);
    const { archive } = backup(t);
    expect(plaza(['restore', archive, '--yes'], t.env).status).toBe(0);
    await withServer(t, async (base) => {
      expect((await api(base, 'GET', '/api/users/me', { token: alice.accessToken })).status).toBe(401);
      expect((await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: alice.refreshToken } })).status).toBe(401);
      expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'alice', password: PASSWORD } })).status).toBe(200);
    });
  });

  it('refuses without a terminal and without --yes, and while a server runs on the data dir', async () => {
    const t = await target('sqlite');
    await seed(t);
    const { archive } = backup(t);
    const before = fingerprint(t);
    const noTty = plaza(['restore', archive], t.env);
    expect(noTty.status).toBe(2);
    expect(noTty.stderr).toContain('--yes');
    const s = await serveProcess(t.env);
    try {
      const busy = plaza(['restore', archive, '--yes'], t.env);
      expect(busy.status).toBe(5);
      expect(busy.stderr).toMatch(/server is running on .*Stop it before restoring/);
      const json = plaza(['restore', archive, '--yes', '--json'], t.env);
      expect(JSON.parse(json.stdout).error.code).toBe('DATA_DIR_BUSY');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
    expect(fingerprint(t)).toBe(before);
  });

  it('on a terminal: a progress bar, and a restore asks first (no → nothing changes, yes → restored)', async () => {
    const hasScript = spawnSync('script', ['--version']).status === 0;
    if (!hasScript && process.env.CI) throw new Error('util-linux script(1) is needed for the terminal test');
    if (!hasScript) return console.warn('SKIPPING terminal test: no script(1)');
    const t = await target('sqlite');
    await seed(t);
    // script(1) gives the command a pseudo-terminal; typed answers arrive after a pause.
    const onTty = (command: string, answer?: string) =>
      spawnSync('sh', ['-c', `${answer ? `(sleep 1; echo ${answer})` : 'true'} | script -qec "${process.execPath} ${MAIN} ${command}" /dev/null`], {
        env: { PATH: process.env.PATH ?? '', ...t.env },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const b = onTty('backup');
    expect(b.status, b.stdout).toBe(0);
    expect(b.stdout).toMatch(/Backup \[.*\] 100% \| [\d.]+\/[\d.]+ MiB/);
    await seed(t, 'n');
    const before = fingerprint(t);
    const no = onTty('restore', 'no');
    expect(no.stdout).toContain('Type "yes" to go on');
    expect(no.stdout).toContain('Not restored: nothing was changed.');
    expect(fingerprint(t)).toBe(before);
    const yes = onTty('restore', 'yes');
    expect(yes.status, yes.stdout).toBe(0);
    expect(yes.stdout).toMatch(/Restored plaza-backup-\S+\.tar/);
    expect((await stateOf(t)).rowCounts.users).toBe(2);
  });

  it('a damaged, truncated, lying or hostile archive is refused before anything changes', async () => {
    const t = await target('sqlite');
    await seed(t);
    const { archive } = backup(t);
    const bytes = readFileSync(archive);
    const dir = path.dirname(archive);
    const variants: Array<[string, Buffer, RegExp]> = [];
    const flipped = Buffer.from(bytes);
    const at = flipped.indexOf(Buffer.from('"username"')) + 3;
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    variants.push(['flipped', flipped, /Checksum mismatch in db\/users\.jsonl/]);
    variants.push(['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated|no manifest/]);
    variants.push(['hostile', await craft([{ name: '../escape', body: 'x' }]), /"\.\.\/escape".*never writes/]);
    variants.push(['absolute', await craft([{ name: '/etc/plaza-x', body: 'x' }]), /never writes/]);
    variants.push(['symlink', await craft([{ name: 'files/images/AAAAAAAAAAAAAAAAAAAA.png', type: 'symlink', linkname: '/etc/passwd' }]), /never writes/]);
    variants.push(['newer', await craft([{ name: 'manifest.json', body: JSON.stringify({ format: 'plaza-backup', formatVersion: 99, entries: [], migrations: [], rowCounts: {} }) }]), /format version 99/]);
    variants.push(['lying', await craft([{ name: 'db/users.jsonl', body: '{"id":1}\n' }, { name: 'manifest.json', body: JSON.stringify({ format: 'plaza-backup', formatVersion: 1, entries: [{ name: 'db/users.jsonl', size: 9, sha256: createHash('sha256').update('{"id":1}\n').digest('hex') }], migrations: [], rowCounts: { users: 5 } }) }]), /says 5 rows for users/]);
    const before = fingerprint(t);
    for (const [name, data, message] of variants) {
      const file = path.join(dir, `bad-${name}.tar`);
      writeFileSync(file, data);
      const r = plaza(['restore', file, '--yes'], t.env);
      expect(r.status, name).not.toBe(0);
      expect(r.stderr, name).toMatch(message);
      const dry = plaza(['restore', file, '--dry-run'], t.env);
      expect(dry.status, name).not.toBe(0);
      rmSync(file);
    }
    expect(fingerprint(t)).toBe(before);
    expect(existsSync(path.join(path.dirname(t.dataDir), 'escape'))).toBe(false);
  });
});

async function craft(entries: Array<{ name: string; body?: string; type?: 'file' | 'symlink'; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}) }, e.body ?? '', (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

describe.each(dbs)('kill -9 mid-restore (%s)', (kind) => {
  const points: Array<[string, 'old' | 'new']> = [
    ['after-safety-backup', 'old'],
    ['before-commit', 'old'],
    ['after-commit', 'new'],
    ['mid-swap', 'new'],
  ];
  it.each(points)('killed at %s: the next start sees the %s state, whole', async (point, expected) => {
    const t = await target(kind);
    await seed(t);
    const archived = await stateOf(t);
    const { archive } = backup(t);
    await seed(t, 'n'); // the state the restore replaces
    const current = await stateOf(t);
    const killed = plaza(['restore', archive, '--yes'], { ...t.env, PLAZA_TEST_CRASH_AT: point });
    expect(killed.signal).toBe('SIGKILL');
    // Any Plaza process on the data dir first finishes or undoes the interrupted restore.
    expect(plaza(['migrate'], t.env).status).toBe(0);
    const after = await stateOf(t);
    const want = expected === 'new' ? archived : current;
    expect(after.rowCounts).toEqual(want.rowCounts);
    expect(after.tables).toEqual(want.tables);
    expect(after.files).toEqual(want.files);
    expect(after.missing).toEqual([]);
    expect(after.onDisk).toEqual(after.files.map((f) => f.split(' ')[0]));
    expect(readdirSync(t.dataDir).filter((n) => n.startsWith('.restore'))).toEqual([]);
  }, 90_000);
});

const isRoot = process.getuid?.() === 0;
if (!isRoot && !process.env.CI) console.warn('SKIPPING full-disk backup tests: mounting a tmpfs needs root. They run in CI.');

describe.skipIf(!isRoot && !process.env.CI)('a disk that fills during a backup or a restore (tmpfs)', () => {
  function tmpfs(megabytes: number): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-full-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount: ${r.stderr}`);
    cleanups.push(() => {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    });
    return dir;
  }

  async function bigSource() {
    const t = await target('sqlite');
    await withServer(t, async (base) => {
      const u = await registerAndLogin(base, 'heavy');
      for (let i = 0; i < 3; i++) await uploadRaw(base, u.accessToken, `big${i}.bin`, randomBytes(4 * 1024 * 1024));
    });
    return t;
  }

  it('a backup into a full disk fails clearly and leaves nothing partial', async () => {
    const t = await bigSource();
    const out = tmpfs(4);
    const r = plaza(['backup', '--output', out], t.env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/disk holding .* is full: no backup was written/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a restore that runs out of room while staging changes nothing', async () => {
    const src = await bigSource();
    const { archive } = backup(src);
    const dst: Target = { kind: 'sqlite', dataDir: path.join(tmpfs(8), 'data'), env: {} };
    dst.env = { ...src.env, PLAZA_DATA_DIR: dst.dataDir };
    await seed(dst);
    const before = fingerprint(dst);
    const r = plaza(['restore', archive, '--yes'], dst.env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/No room on the disk .* nothing was changed/);
    expect(fingerprint(dst)).toBe(before);
    expect(readdirSync(dst.dataDir).filter((n) => n.startsWith('.restore'))).toEqual([]);
  });
});
