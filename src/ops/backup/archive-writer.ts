import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { MANIFEST, type Manifest, type ManifestEntry } from './backup-format.js';

/**
 * Writes one tar archive as a stream (tar-stream, decision 0005): each entry's bytes go from
 * their source through a SHA-256 into the pack, so no file is ever held in memory. The manifest,
 * which carries every entry's size and checksum, is the last entry.
 */
export function createArchiveWriter(file: string, onBytes: (n: number) => void = () => {}) {
  const pack = tar.pack();
  const out: WriteStream = createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: 4 * 1024 * 1024 });
  const entries: ManifestEntry[] = [];
  // The first failure (a full disk: ENOSPC from the file) is the one reported; the pack's own
  // "destroyed" errors that follow it say nothing.
  let failure: Error | undefined;
  const written = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', (err) => {
      failure ??= err;
      pack.destroy(err);
      reject(failure);
    });
    pack.on('error', (err) => {
      failure ??= err;
      reject(failure);
    });
  });
  // A failed write must not leave a rejection nobody awaits while entries are still being added.
  written.catch(() => {});
  pack.pipe(out);

  /** Adds `size` bytes from `source`; fails if the source ends early or runs long. */
  function add(name: string, size: number, source: Readable, mtime: Date): Promise<ManifestEntry> {
    return new Promise((resolve, reject) => {
      const fail = (err: unknown) => {
        source.destroy();
        reject(failure ?? err);
      };
      const hash = createHash('sha256');
      let seen = 0;
      let entry: ReturnType<typeof pack.entry>;
      try {
        if (failure) throw failure;
        entry = pack.entry({ name, size, mode: 0o600, mtime, type: 'file' }, (err) => {
          if (err) return fail(err);
          const e = { name, size, sha256: hash.digest('hex') };
          entries.push(e);
          resolve(e);
        });
      } catch (err) {
        return fail(err);
      }
      // When the pack dies (a full disk), its open entry is destroyed with the error: an entry
      // without a listener would throw it as an uncaught exception and kill the process.
      entry.on('error', fail);
      source.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > size) {
          source.destroy(new Error(`${name} grew while it was archived`));
          return;
        }
        hash.update(chunk);
        onBytes(chunk.length);
        if (!entry.write(chunk)) {
          source.pause();
          entry.once('drain', () => source.resume());
        }
      });
      source.on('end', () => {
        if (seen !== size) return fail(new Error(`${name} shrank while it was archived`));
        (entry as unknown as { end(): void }).end();
      });
      source.on('error', (err) => {
        entry.destroy(err);
        fail(err);
      });
      written.catch(fail);
    });
  }

  /** Adds a whole open file of `size` bytes (the handle is closed afterwards). */
  async function addFile(name: string, fh: FileHandle, size: number, mtime: Date): Promise<ManifestEntry> {
    if (size === 0) {
      await fh.close().catch(() => {});
      return addBuffer(name, Buffer.alloc(0), mtime);
    }
    return add(name, size, fh.createReadStream({ start: 0, end: size - 1, highWaterMark: 1024 * 1024 }), mtime);
  }

  function addBuffer(name: string, bytes: Buffer, mtime: Date): Promise<ManifestEntry> {
    return new Promise((resolve, reject) => {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (failure) return reject(failure);
      try {
        const entry = pack.entry({ name, size: bytes.length, mode: 0o600, mtime, type: 'file' }, bytes, (err) => {
          if (err) return reject(failure ?? err);
          const e = { name, size: bytes.length, sha256 };
          if (name !== MANIFEST) entries.push(e);
          onBytes(bytes.length);
          resolve(e);
        });
        entry.on('error', (err: Error) => reject(failure ?? err));
      } catch (err) {
        reject(failure ?? err);
      }
    });
  }

  /** Appends the manifest (with every entry so far) and finishes the file; fsync is the caller's. */
  async function finish(manifest: Omit<Manifest, 'entries'>): Promise<Manifest> {
    const full: Manifest = { ...manifest, entries: [...entries] };
    await addBuffer(MANIFEST, Buffer.from(`${JSON.stringify(full, null, 1)}\n`), new Date(manifest.createdAt));
    if (failure) throw failure;
    pack.finalize();
    await written;
    return full;
  }

  function abort(): Promise<void> {
    pack.destroy();
    return new Promise((resolve) => out.close(() => resolve()));
  }

  return { add, addFile, addBuffer, finish, abort };
}
