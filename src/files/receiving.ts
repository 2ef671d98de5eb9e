import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../shared/errors.js';
import { openDiskWriter, syncFile, writerClosed } from './disk-writer.js';

/**
 * How upload bytes become a received file in storage's temp folder: hashed, measured, fsync'd
 * (storage.ts's receive, adopt and adoptHashed).
 */

/** Bytes kept from the start of every upload for magic-byte sniffing. */
const HEAD_BYTES = 4100;

/** SHA-256, size and first bytes of a stream of chunks: what every upload form must produce. */
export function createDigest() {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  return {
    get size() {
      return size;
    },
    update(chunk: Buffer) {
      size += chunk.length;
      hash.update(chunk);
      if (headSize < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headSize);
        head.push(part);
        headSize += part.length;
      }
    },
    result: () => ({ size, sha256: hash.digest('hex'), head: Buffer.concat(head) }),
  };
}
export interface Received {
  tempPath: string;
  size: number;
  sha256: string;
  head: Buffer;
}

export interface ReceiveOptions {
  /** Largest acceptable size; exceeding it aborts with `tooLarge()` and removes the temp file. */
  limit: number;
  tooLarge: () => AppError;
}

/** Streams `source` into a new temp file, hashing and counting; fsyncs before returning. */
export async function receive(
  { tempDir, direct }: { tempDir: string; direct: boolean },
  source: Readable,
  opts: ReceiveOptions,
): Promise<Received> {
  const tempPath = path.join(tempDir, `${randomBytes(16).toString('hex')}.part`);
  const digest = createDigest();
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (digest.size + chunk.length > opts.limit) return done(opts.tooLarge());
      digest.update(chunk);
      done(null, chunk);
    },
  });
  // If the temp file cannot be opened (read-only disk, no descriptors left) the source is left
  // alone: the route answers with the mapped error and closes the connection after it.
  const out = await openDiskWriter(tempPath, { direct, create: true, start: 0 });
  try {
    await pipeline(source, meter, out);
    await syncFile(tempPath);
    return { tempPath, ...digest.result() };
  } catch (err) {
    // Unlink only once the writer has closed its descriptors.
    await writerClosed(out);
    await unlink(tempPath).catch(() => {});
    throw err;
  }
}

/**
 * Takes over a complete file written elsewhere on the same filesystem (a finished tus upload):
 * reads it once to hash and measure, fsyncs it, and hands it on as if it had been received.
 */
export async function adopt(filePath: string, opts: ReceiveOptions): Promise<Received> {
  const digest = createDigest();
  const fh = await open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false })) {
      if (digest.size + (chunk as Buffer).length > opts.limit) throw opts.tooLarge();
      digest.update(chunk as Buffer);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { tempPath: filePath, ...digest.result() };
}

/** Takes over a file whose digest was computed while it was written; only fsyncs it. */
export async function adoptHashed(filePath: string, digest: { size: number; sha256: string; head: Buffer }): Promise<Received> {
  const fh = await open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if ((await fh.stat()).size !== digest.size) throw new AppError('UPLOAD_INCOMPLETE', 'Upload size does not match');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { tempPath: filePath, ...digest };
}
