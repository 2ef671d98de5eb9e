import { constants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

/**
 * How upload bytes reach the disk. Two ways, chosen once per storage root (`probeDirectIo`):
 *
 * - **direct** (Linux, a filesystem that takes O_DIRECT): bytes are gathered in page-aligned
 *   1 MiB buffers and written straight to the device, one write at a time, bypassing the page
 *   cache. An upload then costs no page-cache memory and no writeback later: a gigabyte upload
 *   neither evicts the database's pages nor leaves a gigabyte of dirty pages for the final fsync,
 *   and the kernel does a fraction of the work per byte. O_DIRECT needs whole, aligned blocks, so
 *   the last partial block goes through an ordinary descriptor, and an upload resumed mid-block
 *   (tus) reads that block's first bytes back and rewrites them.
 * - **buffered** (anywhere else): ordinary writes of up to 256 KiB, flushed to disk every 16 MiB
 *   while the upload runs (`createFlusher`), so the final fsync has little left to do.
 *
 * Either way, bytes are written in order, one write at a time: whatever stops an upload half-way,
 * the file holds exactly a prefix of what arrived (tus reports its size as the offset to resume
 * from). Making the file durable is the caller's last step (`syncFile`).
 */

/** O_DIRECT's unit: offsets and lengths are multiples of it, buffers aligned to it. */
const BLOCK = 4096;
const DIRECT_BUFFER = 1024 * 1024;
const BUFFERED_BATCH = 256 * 1024;
/** How many bytes an upload may write before the next background flush (buffered mode). */
const FLUSH_EVERY = 16 * 1024 * 1024;

/**
 * Page-aligned buffers for O_DIRECT, shared by all uploads. A WebAssembly memory is always
 * page-aligned (an ordinary Buffer is not), so each one is cut into 1 MiB buffers; the pool keeps a
 * few spare, and memories nobody holds a buffer of are garbage-collected.
 */
const spare: Buffer[] = [];
/** The WebAssembly global, which Node's type definitions leave out. */
const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } })
  .WebAssembly;
function takeAligned(): Buffer {
  const b = spare.pop();
  if (b) return b;
  const memory = new Wasm.Memory({ initial: 64, maximum: 64 }); // 64 pages of 64 KiB: 4 MiB
  for (let off = DIRECT_BUFFER; off < memory.buffer.byteLength; off += DIRECT_BUFFER) {
    spare.push(Buffer.from(memory.buffer, off, DIRECT_BUFFER));
  }
  return Buffer.from(memory.buffer, 0, DIRECT_BUFFER);
}
function giveBack(b: Buffer) {
  if (spare.length < 32) spare.push(b);
}

/**
 * Whether files in `dir` can be written with O_DIRECT: a block written through an O_DIRECT
 * descriptor and read back. Not on macOS or Windows (no O_DIRECT), nor on filesystems that refuse it.
 */
export async function probeDirectIo(dir: string): Promise<boolean> {
  if (constants.O_DIRECT === undefined) return false;
  const probe = path.join(dir, `.direct-io-${randomBytes(6).toString('hex')}`);
  let buf: Buffer | undefined;
  let fh: FileHandle | undefined;
  try {
    // Aligned memory may be refused too (an address-space limit): then no direct writes either.
    buf = takeAligned();
    fh = await open(probe, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o600);
    buf.fill(0x5a, 0, BLOCK);
    if ((await fh.write(buf, 0, BLOCK, 0)).bytesWritten !== BLOCK) return false;
    buf.fill(0, 0, BLOCK);
    return (await fh.read(buf, 0, BLOCK, 0)).bytesRead === BLOCK && buf[BLOCK - 1] === 0x5a;
  } catch {
    return false;
  } finally {
    if (buf) giveBack(buf);
    await fh?.close().catch(() => {});
    await unlink(probe).catch(() => {});
  }
}

/**
 * Flushes a file to disk while it is still being written: an `fdatasync` every `every` bytes, one
 * at a time, on the thread pool. The disk then works while the body is still arriving, and the
 * fsync that makes the finished file durable has little left to do (on a 1 GiB upload it drops from
 * about 0.4 s to about 10 ms). Flushing is an optimisation only: if it fails, `syncFile` still syncs.
 */
function createFlusher(filePath: string, every = FLUSH_EVERY) {
  let inFlight: Promise<void> | undefined;
  let unflushed = 0;
  return {
    /** Counts bytes written; starts a flush when enough have gone by. */
    wrote(bytes: number) {
      unflushed += bytes;
      if (unflushed < every || inFlight) return;
      unflushed = 0;
      inFlight = syncFile(filePath, true)
        .catch(() => {})
        .finally(() => (inFlight = undefined));
    },
    /** Waits for the flush under way, if any. */
    settled: async (): Promise<void> => inFlight,
  };
}

/**
 * fsyncs a file (`dataOnly`: fdatasync) through a descriptor of its own: it flushes the file,
 * whichever descriptor wrote it, and nothing stays open if the upload is abandoned.
 */
export async function syncFile(filePath: string, dataOnly = false): Promise<void> {
  const fh = await open(filePath, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    await (dataOnly ? fh.datasync() : fh.sync());
  } finally {
    await fh.close();
  }
}

export interface DiskWriterOptions {
  /** O_DIRECT (see above); otherwise buffered writes with background flushes. */
  direct: boolean;
  /** Create the file (it must not exist) rather than write into an existing one. */
  create: boolean;
  /** Where the new bytes go: 0 for a new file, the current size for a tus resume. */
  start: number;
}

/**
 * A Writable that puts its bytes into `filePath` from `start` on (see the top of this file). When
 * it has finished, every byte is written (not yet fsync'd: call `syncFile`); if it is destroyed,
 * the file holds a prefix of the bytes and the descriptors are closed before 'close' is emitted.
 */
export async function openDiskWriter(filePath: string, opts: DiskWriterOptions): Promise<Writable> {
  const flags = constants.O_RDWR | constants.O_NOFOLLOW | (opts.create ? constants.O_CREAT | constants.O_EXCL : 0);
  if (!opts.direct) return bufferedWriter(await open(filePath, flags, 0o600), filePath, opts.start);
  const fh = await open(filePath, flags | constants.O_DIRECT, 0o600);
  try {
    return await directWriter(fh, filePath, opts.start);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Resolves once a writer has closed its descriptors (after a failure, it may still be saving what it holds). */
export function writerClosed(out: Writable): Promise<void> {
  return out.closed ? Promise.resolve() : new Promise((resolve) => out.once('close', () => resolve()));
}

/** Writes `length` bytes of `buf` at `position`, however many calls it takes. */
async function writeAll(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('The disk accepted no bytes'), { code: 'EIO', syscall: 'write' });
    done += bytesWritten;
  }
}

async function directWriter(fh: FileHandle, filePath: string, start: number): Promise<Writable> {
  // The file offset of buf[0]: always block-aligned. A resume mid-block starts with that block's
  // bytes read back, so the first write covers the whole block.
  let position = start - (start % BLOCK);
  let buf = takeAligned();
  let fill = 0;
  if (position < start) {
    const { bytesRead } = await fh.read(buf, 0, BLOCK, position);
    if (bytesRead < start - position) {
      giveBack(buf);
      throw Object.assign(new Error('The file is shorter than the offset to write at'), { code: 'EINVAL' });
    }
    fill = start - position;
  }
  /** The one write under way, if any; it never rejects: a failure is kept in `failure`. */
  let writing: Promise<void> | undefined;
  let failure: unknown;
  let destroyed = false;
  let finishing: Promise<void> | undefined;
  const submitFull = () => {
    const next = takeAligned();
    const full = buf;
    const at = position;
    position += DIRECT_BUFFER;
    buf = next;
    fill = 0;
    const done: Promise<void> = writeAll(fh, full, DIRECT_BUFFER, at)
      .catch((err: unknown) => void (failure ??= err))
      .finally(() => {
        giveBack(full);
        if (writing === done) writing = undefined;
      });
    writing = done;
  };
  /** Writes what the buffer holds: whole blocks directly, the last partial one through an ordinary descriptor. */
  const writeRest = async () => {
    const whole = fill - (fill % BLOCK);
    if (whole > 0) await writeAll(fh, buf, whole, position);
    if (fill > whole) {
      const tail = await open(filePath, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        await writeAll(tail, buf.subarray(whole), fill - whole, position + whole);
      } finally {
        await tail.close();
      }
    }
    position += fill;
    fill = 0;
  };
  return new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, callback) {
      let off = 0;
      // Copies the chunk on; a full buffer is written once the write before it is done (one write
      // at a time, in order: the file is always a prefix of what arrived).
      const step = (): void => {
        while (off < chunk.length) {
          if (destroyed) return callback();
          if (failure) return callback(failure as Error);
          const n = chunk.copy(buf, fill, off);
          fill += n;
          off += n;
          if (fill < DIRECT_BUFFER) continue;
          if (writing) {
            void writing.then(() => {
              try {
                if (!destroyed && !failure) submitFull();
                step();
              } catch (err) {
                callback(err as Error);
              }
            });
            return;
          }
          submitFull();
        }
        callback();
      };
      try {
        step();
      } catch (err) {
        // No aligned memory to be had for the next buffer: this upload fails, the server goes on.
        callback(err as Error);
      }
    },
    final(callback) {
      finishing = (async () => {
        await writing;
        if (failure) throw failure;
        await writeRest();
      })();
      finishing.then(() => callback(), callback);
    },
    destroy(err, callback) {
      destroyed = true;
      void (async () => {
        // Node may destroy while `final` still writes: that finishes first (it owns the buffer).
        if (finishing) await finishing.catch(() => {});
        await writing;
        // A body cut short (the client went away): what reached the writer is kept, for a tus resume.
        if (!failure && !finishing) await writeRest().catch(() => {});
        giveBack(buf);
        await fh.close().catch(() => {});
      })().then(() => callback(err));
    },
  });
}

function bufferedWriter(fh: FileHandle, filePath: string, start: number): Writable {
  const flusher = createFlusher(filePath);
  let position = start;
  let destroyed = false;
  /** The writev under way, if any: destroy waits for it before closing the descriptor. */
  let writing: Promise<void> | undefined;
  const writeChunks = async (chunks: Buffer[]) => {
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    const { bytesWritten } = await fh.writev(chunks, position);
    // A short writev (rare): the rest goes one write at a time.
    if (bytesWritten < bytes) {
      const rest = Buffer.concat(chunks).subarray(bytesWritten);
      await writeAll(fh, rest, rest.length, position + bytesWritten);
    }
    position += bytes;
    // No new flush once the writer is going away (its descriptor may be closed and the file gone).
    if (!destroyed) flusher.wrote(bytes);
  };
  return new Writable({
    highWaterMark: BUFFERED_BATCH,
    writev(chunks, callback) {
      writing = writeChunks(chunks.map((c) => c.chunk as Buffer));
      writing.then(() => callback(), callback);
    },
    destroy(err, callback) {
      destroyed = true;
      void (async () => {
        await writing?.catch(() => {});
        await flusher.settled();
        await fh.close().catch(() => {});
      })().then(() => callback(err));
    },
  });
}
