import { readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { AppError } from '../shared/errors.js';
import { openDiskWriter, writerClosed } from './disk-writer.js';
import { createDigest } from './receiving.js';

type Upload = Parameters<FileStore['create']>[0];

/** The ids Plaza names its uploads with (and the only names it ever reads from the store). */
export const TUS_ID = /^[0-9a-f]{32}$/;

interface Running {
  digest: ReturnType<typeof createDigest>;
  offset: number;
}

/** What @tus/server sends for a thrown `{status_code, body}`. */
export interface TusError {
  status_code: number;
  body: string;
}

export const tusError = (err: Pick<AppError, 'status' | 'code' | 'message'>): TusError => ({
  status_code: err.status,
  body: JSON.stringify({ error: { code: err.code, message: err.message } }),
});

/** A failed system call is the disk's; it is told as such by the route's error mapping. */
const isDiskError = (err: unknown) => typeof (err as NodeJS.ErrnoException)?.syscall === 'string';

/**
 * A FileStore that hashes each PATCH as it is written, so a finished upload needs no second pass
 * over its bytes, and writes through Plaza's disk writer (O_DIRECT where it can, see
 * disk-writer.ts). The running hash lives in memory: after a restart, or if a PATCH fails
 * part-way, the upload is hashed in place at the end instead.
 */
export class HashingFileStore extends FileStore {
  private readonly running = new Map<string, Running>();
  /** Uploads finalised during the request still being answered (tus reads them back once). */
  private readonly finished = new Map<string, Upload>();

  constructor(
    options: ConstructorParameters<typeof FileStore>[0],
    private readonly directIo = false,
  ) {
    super(options);
  }

  /** Creates the upload's files; if either cannot be written (a full disk), neither stays behind. */
  override async create(upload: Upload): Promise<Upload> {
    try {
      return await super.create(upload);
    } catch (err) {
      await this.discard(upload.id);
      throw err;
    }
  }

  /** Appends one PATCH body at `offset`; replaces FileStore's write (same semantics). */
  override async write(readable: IncomingMessage | Readable, id: string, offset: number): Promise<number> {
    const filePath = path.join(this.directory, id);
    let state = this.running.get(id);
    if (offset === 0) {
      state = { digest: createDigest(), offset: 0 };
      this.running.set(id, state);
    } else if (state && state.offset !== offset) {
      state = undefined;
      this.running.delete(id);
    }
    const s = state;
    let written = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        written += chunk.length;
        s?.digest.update(chunk);
        done(null, chunk);
      },
    });
    let out: Writable;
    try {
      out = await openDiskWriter(filePath, { direct: this.directIo, create: false, start: offset });
    } catch (err) {
      this.running.delete(id);
      readable.destroy();
      throw err;
    }
    let diskError: unknown;
    out.once('error', (err) => {
      if (isDiskError(err)) diskError = err;
    });
    try {
      await pipeline(readable, meter, out);
    } catch (err) {
      this.running.delete(id);
      await writerClosed(out);
      // The disk failed: the server's problem, told as such.
      if (diskError) throw diskError;
      // tus's own refusals (a body past the announced length: 413) stand as they are.
      if (typeof (err as { status_code?: unknown }).status_code === 'number') throw err;
      // The client went away: what arrived is kept, HEAD reports the new offset, it resumes.
      throw tusError(new AppError('UPLOAD_INCOMPLETE', 'The upload was interrupted; resume it from the offset HEAD reports'));
    }
    if (s) s.offset = offset + written;
    return offset + written;
  }

  /**
   * tus counts an upload's expiry from its `creation_date`; Plaza keeps an unfinished upload for
   * the expiry after its last change, so a slow upload that keeps going never expires under it.
   * The date reported (and so `Upload-Expires`) is the later of creation and the last write.
   */
  override async getUpload(id: string): ReturnType<FileStore['getUpload']> {
    const done = this.finished.get(id);
    if (done) return done;
    const upload = await super.getUpload(id);
    const st = await stat(path.join(this.directory, id)).catch(() => undefined);
    const created = Date.parse(upload.creation_date ?? '') || 0;
    if (st && st.mtimeMs > created) upload.creation_date = new Date(st.mtimeMs).toISOString();
    return upload;
  }

  /** The upload became a stored file: its own files go, and until `forget` it reads as complete. */
  async finish(upload: Upload): Promise<void> {
    this.finished.set(upload.id, upload);
    await this.discard(upload.id);
  }

  forget(id: string): void {
    this.finished.delete(id);
  }

  /**
   * Removes uploads untouched for longer than the expiry (see getUpload), and also what tus's own
   * sweep skips: uploads whose metadata cannot be read (a crash or a full disk while creating)
   * and complete uploads that were never finalised, by the age of their files.
   */
  override async deleteExpired(): Promise<number> {
    const now = Date.now();
    const ids = new Set((await readdir(this.directory).catch(() => [] as string[])).map((n) => n.replace(/\.json$/, '')));
    let removed = 0;
    for (const id of ids) {
      if (!TUS_ID.test(id) || this.finished.has(id)) continue;
      const upload = await this.getUpload(id).catch(() => undefined);
      const touched = upload ? Date.parse(upload.creation_date ?? '') || 0 : await this.lastTouched(id);
      if (now > touched + this.getExpiration()) {
        await this.discard(id);
        removed++;
      }
    }
    return removed;
  }

  private async lastTouched(id: string): Promise<number> {
    const times = await Promise.all([id, `${id}.json`].map((n) => stat(path.join(this.directory, n)).then((s) => s.mtimeMs, () => 0)));
    return Math.max(...times);
  }

  /** Removes an upload's files (its finalisation failed, or it was never fully created). */
  async discard(id: string): Promise<void> {
    this.running.delete(id);
    await rm(path.join(this.directory, id), { force: true });
    await rm(path.join(this.directory, `${id}.json`), { force: true });
  }

  /** The digest of a completely and cleanly hashed upload, once. */
  takeDigest(id: string, size: number): { size: number; sha256: string; head: Buffer } | undefined {
    const s = this.running.get(id);
    this.running.delete(id);
    if (!s || s.offset !== size) return undefined;
    return s.digest.result();
  }
}
