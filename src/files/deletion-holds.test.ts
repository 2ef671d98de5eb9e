import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeletionHolds } from './deletion-holds.js';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function setup() {
  root = mkdtempSync(path.join(tmpdir(), 'plaza-holds-'));
  mkdirSync(path.join(root, 'files'));
  const file = path.join(root, 'files', 'AAAAAAAAAAAAAAAAAAAAAA.bin');
  writeFileSync(file, 'bytes');
  return { holds: createDeletionHolds(root), file };
}

describe('deletion holds', () => {
  it('without a hold a delete unlinks; with one it keeps the bytes until released', async () => {
    const { holds, file } = setup();
    const release = await holds.hold();
    expect(await holds.active()).toBe(true);
    await holds.dispose(file, 'files', 'AAAAAAAAAAAAAAAAAAAAAA.bin');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(holds.keptPath('files', 'AAAAAAAAAAAAAAAAAAAAAA.bin'))).toBe(true);
    await release();
    expect(await holds.active()).toBe(false);
    expect(readdirSync(path.join(root, '.deleted'))).toEqual([]);
    writeFileSync(file, 'again');
    await holds.dispose(file, 'files', 'AAAAAAAAAAAAAAAAAAAAAA.bin');
    expect(existsSync(file) || existsSync(holds.keptPath('files', 'AAAAAAAAAAAAAAAAAAAAAA.bin'))).toBe(false);
  });

  it("a killed backup's hold on this host is stale and removed; another host's is honoured", async () => {
    const { holds, file } = setup();
    mkdirSync(path.join(root, '.holds'));
    const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_');
    writeFileSync(path.join(root, '.holds', `${host}-999999999-abc`), '');
    expect(await holds.active()).toBe(false);
    expect(readdirSync(path.join(root, '.holds'))).toEqual([]);
    writeFileSync(path.join(root, '.holds', 'otherhost-1-abc'), '');
    expect(await holds.active()).toBe(true);
    await holds.dispose(file, 'files', 'AAAAAAAAAAAAAAAAAAAAAA.bin');
    expect(existsSync(holds.keptPath('files', 'AAAAAAAAAAAAAAAAAAAAAA.bin'))).toBe(true);
  });
});
