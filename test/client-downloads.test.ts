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
import { type ClientUser, clientUser, jsonOf } from './helpers/client.js';
import { testDatabases } from './helpers/databases.js';
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
    const { child, done } = u.start(['download', 'huge.bin', '--json'], { cwd: out });
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    while (!finished && !(existsSync(part) && statSync(part).size > 4 * 1024 * 1024)) await new Promise((r) => setTimeout(r, 5));
    expect(finished).toBe(false);
    child.kill('SIGKILL');
    await done;
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    const r = await u.run(['download', 'huge.bin', '--json'], { cwd: out });
    expect(r.code).toBe(0);
    expect(jsonOf(r).resumedFrom).toBe(kept);
    expect(sha(readFileSync(path.join(out, 'huge.bin')))).toBe(sha(data));
  }, 60_000);
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
    const far = Date.now() + 3600_000;
    mkdirSync(path.join(u.configDir, 'plaza'), { recursive: true });
    writeFileSync(
      path.join(u.configDir, 'plaza', 'profile.json'),
      JSON.stringify({ server: stubUrl, username: 'x', userId: 1, refreshToken: 'r', refreshTokenExpiresAt: far, accessToken: 'stub-token', accessTokenExpiresAt: far }),
      { mode: 0o600 },
    );
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
