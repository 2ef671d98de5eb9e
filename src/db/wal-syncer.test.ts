import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSyncer } from './wal-syncer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'plaza-db-'));
  dirs.push(dir);
  return dir;
}

describe('the WAL syncer', () => {
  it('gives every caller a sync that started after it asked, sharing one among those who wait', async () => {
    const file = path.join(tempDir(), 'f');
    writeFileSync(file, 'x');
    const syncer = createSyncer(file);
    const a = syncer.sync();
    const b = syncer.sync();
    const c = syncer.sync();
    // a runs now; b and c (asked while a ran) share the next one.
    expect(b).toBe(c);
    expect(a).not.toBe(b);
    await Promise.all([a, b, c]);
    await syncer.close();
  });

  it('fails for good once a sync has failed, even if the file becomes syncable again', async () => {
    const file = path.join(tempDir(), 'not-a-file');
    mkdirSync(file);
    const syncer = createSyncer(file);
    await expect(syncer.sync()).rejects.toThrow();
    expect(syncer.failed()).toBe(true);
    rmSync(file, { recursive: true });
    writeFileSync(file, 'x');
    await expect(syncer.sync()).rejects.toThrow();
    await syncer.close();
  });

  it('treats a missing file as synced (the WAL is gone after the last connection closed)', async () => {
    const syncer = createSyncer(path.join(tempDir(), 'missing-wal'));
    await expect(syncer.sync()).resolves.toBeUndefined();
    await syncer.close();
  });
});
