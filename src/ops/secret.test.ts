import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN } from '../../test/helpers/process.js';
import { loadOrCreateSecret, SecretError } from './secret.js';

const dirs: string[] = [];
function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'plaza-secret-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('server secret', () => {
  it('is generated once with mode 0600 and reused', () => {
    const dir = tempDir();
    const first = loadOrCreateSecret(dir);
    expect(first.created).toBe(true);
    expect(first.secret.length).toBeGreaterThanOrEqual(64);
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSecret(dir);
    expect(second).toEqual({ secret: first.secret, created: false });
    // Nothing is left beside it.
    expect(readdirSync(dir)).toEqual(['secret']);
  });

  it('refuses short and well-known secrets, saying how to fix it, and leaves the file alone', () => {
    const dir = tempDir();
    const file = path.join(dir, 'secret');
    for (const bad of ['tooshort', '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7', 'a'.repeat(40)]) {
      writeFileSync(file, bad, { mode: 0o600 });
      expect(() => loadOrCreateSecret(dir), bad).toThrow(SecretError);
      expect(() => loadOrCreateSecret(dir), bad).toThrow(/delete it to have a new one generated/);
    }
    expect(() => loadOrCreateSecret(dir, 'changeme')).toThrow(/PLAZA_SECRET/);
    expect(() => loadOrCreateSecret(dir, '')).toThrow(/PLAZA_SECRET is empty/);
    expect(readFileSync(file, 'utf8')).toBe('a'.repeat(40));
  });

  // What an interrupted first start of an older Plaza left (the file created, its bytes never
  // written): no token was ever signed with an empty secret, so a new one replaces it.
  it.each([
    ['a 0-byte file', ''],
    ['a blank line', '\n'],
    ['spaces', '   \n'],
  ])('replaces %s with a new secret', (_, content) => {
    const dir = tempDir();
    const file = path.join(dir, 'secret');
    writeFileSync(file, content, { mode: 0o644 });
    const got = loadOrCreateSecret(dir);
    expect(got.created).toBe(true);
    expect(got.secret.length).toBeGreaterThanOrEqual(64);
    expect(readFileSync(file, 'utf8')).toBe(`${got.secret}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecret(dir)).toEqual({ secret: got.secret, created: false });
  });

  it('removes a temp file an interrupted write left, but not one another process is writing now', () => {
    const dir = tempDir();
    const stale = path.join(dir, '.secret-0123456789ab.tmp');
    const fresh = path.join(dir, '.secret-ba9876543210.tmp');
    writeFileSync(stale, 'half-written', { mode: 0o600 });
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(stale, hourAgo, hourAgo);
    writeFileSync(fresh, 'being written', { mode: 0o600 });
    const got = loadOrCreateSecret(dir);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(got.secret).not.toContain('written');
  });

  it('tightens a secret file readable by others', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'secret'), 'x7Gq'.repeat(16), { mode: 0o644 });
    loadOrCreateSecret(dir);
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
  });

  const strace = spawnSync('strace', ['-qq', '-e', 'trace=none', 'true']).status === 0;
  it.skipIf(!strace)(
    'is written to a temp file, fsynced, then linked into place and the directory fsynced (strace of `plaza migrate`)',
    () => {
      const dataDir = path.join(tempDir(), 'data');
      const trace = path.join(path.dirname(dataDir), 'trace');
      const run = spawnSync(
        'strace',
        ['-f', '-qq', '-o', trace, '-e', 'trace=openat,write,fsync,fdatasync,close,rename,renameat,renameat2,link,linkat', process.execPath, MAIN, 'migrate'],
        { env: { PATH: process.env.PATH ?? '', PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent' }, encoding: 'utf8', timeout: 30_000 },
      );
      expect(run.status, run.stderr).toBe(0);
      const lines = readFileSync(trace, 'utf8')
        .split('\n')
        .map((l) => l.replace(/^\d+\s+/, '').replace(/\s+= /, ' = '));
      const final = path.join(dataDir, 'secret');
      const fdOf = (l: string | undefined) => /= (\d+)$/.exec(l ?? '')?.[1];

      // The final name is never opened for writing: it only ever appears complete.
      expect(lines.filter((l) => l.startsWith('openat') && l.includes(`"${final}"`) && /O_WRONLY|O_RDWR|O_CREAT/.test(l))).toEqual([]);
      const created = lines.findIndex((l) => l.startsWith('openat') && l.includes(`"${dataDir}/.secret-`) && l.includes('O_CREAT'));
      expect(created, 'a temp file is created beside the secret').toBeGreaterThanOrEqual(0);
      const temp = /"([^"]+)"/.exec(lines[created] ?? '')?.[1] ?? '';
      const fd = fdOf(lines[created]);
      const wrote = lines.findIndex((l, i) => i > created && l.startsWith(`write(${fd},`));
      // fsync through any descriptor of the temp file, after the bytes were written.
      const tempFds = new Set(lines.filter((l) => l.startsWith('openat') && l.includes(`"${temp}"`)).map(fdOf));
      const synced = lines.findIndex((l, i) => i > wrote && tempFds.has(/^f(?:data)?sync\((\d+)\) = 0/.exec(l)?.[1]));
      const placed = lines.findIndex((l) => /^(link|linkat|rename|renameat2?)\(/.test(l) && l.includes(`"${temp}"`) && l.includes(`"${final}"`));
      expect(wrote).toBeGreaterThan(created);
      expect(synced, 'the temp file is fsynced after it is written').toBeGreaterThan(wrote);
      expect(placed, 'and only then put in place').toBeGreaterThan(synced);
      const dirOpen = lines.findIndex((l, i) => i > placed && l.startsWith('openat') && l.includes(`"${dataDir}"`));
      const dirFd = fdOf(lines[dirOpen]);
      expect(dirOpen, 'the directory is opened after the link').toBeGreaterThan(placed);
      expect(lines.slice(dirOpen).some((l) => l.startsWith(`fsync(${dirFd}) = 0`)), 'and fsynced').toBe(true);
    },
  );
});
