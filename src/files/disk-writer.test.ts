import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDiskWriter, probeDirectIo, writerClosed } from './disk-writer.js';
import { createStorage } from './storage.js';

const MiB = 1024 * 1024;
let dir: string;
let direct: boolean;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plaza-disk-writer-'));
  direct = await probeDirectIo(dir);
  if (!direct) console.warn(`O_DIRECT is not available in ${dir}: only the buffered writer is tested here`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `data` cut into chunks of random sizes (1 byte to 200 KiB), as a network would deliver it. */
function chunked(data: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; ) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 200 * 1024));
    parts.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(parts);
}

let n = 0;
const fresh = () => path.join(dir, `f-${n++}`);

describe.each([
  ['direct (O_DIRECT)', true],
  ['buffered', false],
])('the %s disk writer', (_label, wantDirect) => {
  const mode = () => wantDirect && direct;

  it.each([0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 3 * MiB + 123])('writes %i bytes exactly', async (size) => {
    const data = randomBytes(size);
    const file = fresh();
    await pipeline(chunked(data), await openDiskWriter(file, { direct: mode(), create: true, start: 0 }));
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  it.each([1, 4095, 4097, MiB + 5, 2 * MiB])('resumes at offset %i (mid-block or not) and keeps the bytes before it', async (at) => {
    const data = randomBytes(2 * MiB + 777);
    const file = fresh();
    writeFileSync(file, data.subarray(0, at));
    await pipeline(chunked(data.subarray(at)), await openDiskWriter(file, { direct: mode(), create: false, start: at }));
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  it('keeps exactly the bytes that arrived when the body is cut short', async () => {
    const data = randomBytes(MiB + 4096 + 10);
    const file = fresh();
    const source = new Readable({ read() {} });
    const out = await openDiskWriter(file, { direct: mode(), create: true, start: 0 });
    const done = pipeline(source, out);
    source.push(data);
    await new Promise((r) => setTimeout(r, 50));
    source.destroy(new Error('the client went away'));
    await expect(done).rejects.toThrow('the client went away');
    // The writer saves what it holds before it closes.
    await writerClosed(out);
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  it('refuses to create over an existing file, and to resume past the end of one', async () => {
    const file = fresh();
    writeFileSync(file, 'abc');
    await expect(openDiskWriter(file, { direct: mode(), create: true, start: 0 })).rejects.toMatchObject({ code: 'EEXIST' });
    if (mode()) {
      await expect(openDiskWriter(file, { direct: true, create: false, start: 3 + 4096 + 1 })).rejects.toMatchObject({ code: 'EINVAL' });
    }
    expect(readFileSync(file, 'utf8')).toBe('abc');
  });
});

describe('probeDirectIo', () => {
  it('says no for a directory that does not exist, and leaves nothing behind where it probes', async () => {
    expect(await probeDirectIo(path.join(dir, 'missing'))).toBe(false);
    const probeDir = mkdtempSync(path.join(tmpdir(), 'plaza-probe-'));
    await probeDirectIo(probeDir);
    expect(readdirSync(probeDir)).toEqual([]);
    rmSync(probeDir, { recursive: true });
  });
});

describe('storage', () => {
  it('writes with O_DIRECT when asked and the filesystem takes it, buffered when PLAZA_UPLOAD_DIRECT_IO is off', async () => {
    const data = randomBytes(MiB + 99);
    for (const asked of [true, false]) {
      const storage = createStorage(mkdtempSync(path.join(tmpdir(), 'plaza-storage-')), { directIo: asked });
      await storage.init(true);
      expect(storage.directIo).toBe(asked && direct);
      const received = await storage.receive(chunked(data), { limit: 2 * MiB, tooLarge: () => new Error('too large') as never });
      expect(received.size).toBe(data.length);
      expect(readFileSync(received.tempPath).equals(data)).toBe(true);
      rmSync(path.dirname(storage.root), { recursive: true, force: true });
    }
  });
});
