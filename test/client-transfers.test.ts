// plaza upload / download / files / rm / share with the built binary (no terminal) against a real
// server: resumed uploads and downloads after the process is killed, SHA-256 checked, and names a
// server sends that try to leave the chosen directory.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser, jsonOf, type Run } from './helpers/client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;
const users: ClientUser[] = [];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function loggedIn(name: string, url = base): Promise<ClientUser> {
  const u = clientUser(url);
  users.push(u);
  const r = await u.run(['register', name, '--password-stdin'], { input: PASSWORD });
  if (r.code !== 0) throw new Error(r.stderr);
  return u;
}

beforeAll(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  for (const u of users) u.cleanup();
  await server.close();
});

/** Bytes of the unfinished tus uploads on the server's disk. */
function tusBytes(): number {
  const dir = path.join(server.dataDir, 'uploads', '.tus');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((f) => !f.includes('.'))
    .reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
}

/** Waits until `check` holds (polling), then kills the child with `signal`. */
async function killWhen(child: import('node:child_process').ChildProcess, done: Promise<Run>, check: () => boolean, signal: NodeJS.Signals) {
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  while (!finished && !check()) await new Promise((r) => setTimeout(r, 5));
  if (finished) throw new Error('the transfer finished before it could be interrupted');
  child.kill(signal);
  return done;
}

describe('plaza upload / files / rm / share', () => {
  it('uploads files and a directory; lists them as TSV and --json, by category and size', async () => {
    const u = await loggedIn('ulla');
    const work = path.join(u.home, 'work');
    writeFileSync(path.join(work, 'notes.txt'), 'hello\n');
    writeFileSync(path.join(work, 'empty.txt'), '');
    mkdirSync(path.join(work, 'dir', 'sub'), { recursive: true });
    writeFileSync(path.join(work, 'dir', 'a.bin'), randomBytes(3000));
    writeFileSync(path.join(work, 'dir', 'sub', 'b.bin'), randomBytes(10));

    const up = await u.run(['upload', 'notes.txt', 'empty.txt']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^Uploaded notes\.txt \(6 B, documents\) as fil_\S+\nUploaded empty\.txt \(0 B, documents\) as fil_\S+\n$/);
    const dir = await u.run(['upload', 'dir']);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain('--recursive');
    const rec = jsonOf(await u.run(['upload', '-r', 'dir', '--json']));
    expect(rec.files.map((f: { name: string }) => f.name)).toEqual(['a.bin', 'b.bin']);
    expect(rec.files[0].sha256).toBe(sha(readFileSync(path.join(work, 'dir', 'a.bin'))));
    const missing = await u.run(['upload', 'nope.txt']);
    expect(missing.code).toBe(4);

    const tsv = await u.run(['files', '--sort', 'size', '--desc']);
    expect(tsv.code).toBe(0);
    const rows = tsv.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.map((r) => r[4])).toEqual(['a.bin', 'b.bin', 'notes.txt', 'empty.txt']);
    expect(rows[0]?.[1]).toBe('3000');
    const listed = jsonOf(await u.run(['files', '--json', '--category', 'documents']));
    expect(listed.total).toBe(2);
    expect(listed.files.map((f: { name: string }) => f.name).sort()).toEqual(['empty.txt', 'notes.txt']);
    expect((await u.run(['files', '--category', 'nope'])).code).toBe(2);

    const share = await u.run(['share', 'notes.txt', '--expires', '7d', '--max-downloads', '2', '--json']);
    expect(share.code).toBe(0);
    const link = jsonOf(share);
    expect(link.share.maxDownloads).toBe(2);
    expect(link.share.expiresAt).toBeGreaterThan(Date.now() + 6 * 86400_000);
    expect(await (await fetch(link.url)).text()).toBe('hello\n');
    expect((await u.run(['share', 'notes.txt', '--expires', 'soon'])).code).toBe(2);

    const rm = await u.run(['rm', 'empty.txt', rec.files[1].id]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('Deleted empty.txt');
    const gone = await u.run(['rm', 'empty.txt', '--json']);
    expect(gone.code).toBe(4);
    expect(jsonOf(gone).error.code).toBe('NOT_FOUND');
    expect(jsonOf(await u.run(['files', '--json'])).total).toBe(2);
  });

  it('a quoted glob is expanded by plaza itself (not dotfiles); one matching nothing is exit 4', async () => {
    const u = await loggedIn('gloria');
    const dir = path.join(u.home, 'work');
    for (const n of ['a.txt', 'b.txt', 'c.log', '.hidden.txt']) writeFileSync(path.join(dir, n), `${n}\n`);
    const r = await u.run(['upload', '*.txt', '--json']);
    expect(r.stderr).toBe('');
    expect(jsonOf(r).files.map((f: { name: string }) => f.name)).toEqual(['a.txt', 'b.txt']);
    const set = jsonOf(await u.run(['upload', path.join(dir, '[bc].*'), '--json']));
    expect(set.files.map((f: { name: string }) => f.name)).toEqual(['b.txt', 'c.log']);
    const none = await u.run(['upload', 'nomatch*.zz']);
    expect(none.code).toBe(4);
    expect(none.stderr).toBe('No file matches nomatch*.zz\n');
  });

  it('--recursive reads names that are not UTF-8, and uploads Unicode names as they are', async () => {
    const u = await loggedIn('nadia');
    const dir = path.join(u.home, 'work', 'odd');
    mkdirSync(dir);
    const latin1 = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    writeFileSync(latin1, 'latin-1 name\n');
    writeFileSync(path.join(dir, 'résumé 📄.txt'), 'unicode name\n');
    const r = await u.run(['upload', '-r', 'odd', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const names = jsonOf(r).files.map((f: { name: string }) => f.name).sort();
    expect(names).toEqual(['caf\ufffd.txt', 'résumé 📄.txt']);
    expect(jsonOf(r).files.find((f: { name: string }) => f.name === 'caf\ufffd.txt').sha256).toBe(sha(Buffer.from('latin-1 name\n')));
  });

  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`an upload killed mid-way (${signal}) resumes on the next run, to the right SHA-256`, async () => {
      const u = await loggedIn(`resume${signal.toLowerCase()}`);
      const data = randomBytes(160 * 1024 * 1024);
      const file = path.join(u.home, 'work', 'big.bin');
      writeFileSync(file, data);
      const before = tusBytes();
      const { child, done } = u.start(['upload', 'big.bin', '--json']);
      const cut = await killWhen(child, done, () => tusBytes() - before > 4 * 1024 * 1024, signal);
      if (signal === 'SIGINT') {
        expect(cut.code).toBe(1);
        expect(cut.stdout).toContain('"INTERRUPTED"');
        expect(cut.stderr).toContain('Run the same command again to resume');
      } else expect(cut.signal).toBe('SIGKILL');
      const again = await u.run(['upload', 'big.bin', '--json']);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const [uploaded] = jsonOf(again).files;
      expect(uploaded.resumedFrom).toBeGreaterThan(0);
      expect(uploaded.size).toBe(data.length);
      expect(uploaded.sha256).toBe(sha(data));
      expect(jsonOf(await u.run(['files', '--json'])).total).toBe(1);
    }, 60_000);
  }

  it('a file that grows while uploading: the announced bytes are sent and a warning says so', async () => {
    const u = await loggedIn('gwen');
    const data = randomBytes(160 * 1024 * 1024);
    const file = path.join(u.home, 'work', 'growing.log');
    writeFileSync(file, data);
    const before = tusBytes();
    const { done } = u.start(['upload', 'growing.log', '--json']);
    while (tusBytes() - before < 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
    const { appendFileSync } = await import('node:fs');
    appendFileSync(file, 'more lines\n');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('changed while it was uploading');
    const [f] = jsonOf(r).files;
    expect(f.size).toBe(data.length);
    expect(f.sha256).toBe(sha(data));
  }, 60_000);

  it('a corrupt resume record in the cache is ignored: the upload starts over', async () => {
    const u = await loggedIn('hugo');
    const data = randomBytes(160 * 1024 * 1024);
    writeFileSync(path.join(u.home, 'work', 'big.bin'), data);
    const before = tusBytes();
    const { child, done } = u.start(['upload', 'big.bin']);
    await killWhen(child, done, () => tusBytes() - before > 4 * 1024 * 1024, 'SIGKILL');
    const records = path.join(u.cacheDir, 'plaza', 'uploads');
    for (const f of readdirSync(records)) writeFileSync(path.join(records, f), '{not json');
    const r = await u.run(['upload', 'big.bin', '--json']);
    expect(r.code).toBe(0);
    const [f] = jsonOf(r).files;
    expect(f.resumedFrom).toBe(0);
    expect(f.sha256).toBe(sha(data));
  }, 60_000);
});
