import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { finished, type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { requireUser } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { AppError } from '../shared/errors.js';
import { fileJson } from './files.schemas.js';
import { openDiskWriter, writerClosed } from './disk-writer.js';
import { createDigest } from './storage.js';

export const TUS_PATH = '/api/files/tus';

interface Running {
  digest: ReturnType<typeof createDigest>;
  offset: number;
}

/**
 * A FileStore that hashes each PATCH as it is written, so a finished upload needs no second pass
 * over its bytes, and writes through Plaza's disk writer (O_DIRECT where it can, see
 * disk-writer.ts). The running hash lives in memory: after a restart, or if a PATCH fails
 * part-way, the upload is hashed in place at the end instead.
 */
export class HashingFileStore extends FileStore {
  private readonly running = new Map<string, Running>();

  constructor(
    options: ConstructorParameters<typeof FileStore>[0],
    private readonly directIo = false,
  ) {
    super(options);
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
      throw diskFailure(err as NodeJS.ErrnoException);
    }
    let diskError: NodeJS.ErrnoException | undefined;
    // A failed system call is the disk's fault; anything else (a body cut short) is the client's.
    out.once('error', (err: NodeJS.ErrnoException) => {
      if (err.syscall) diskError = err;
    });
    try {
      await pipeline(readable, meter, out);
    } catch (err) {
      this.running.delete(id);
      await writerClosed(out);
      // The disk failed: the server's problem, told as such.
      if (diskError) throw diskFailure(diskError);
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
   * TUS_EXPIRY_MS after its last change, so a slow upload that keeps going never expires under
   * it. The date reported (and so `Upload-Expires`) is the later of creation and the last write.
   */
  override async getUpload(id: string): ReturnType<FileStore['getUpload']> {
    const upload = await super.getUpload(id);
    const st = await stat(path.join(this.directory, id)).catch(() => undefined);
    const created = Date.parse(upload.creation_date ?? '') || 0;
    if (st && st.mtimeMs > created) upload.creation_date = new Date(st.mtimeMs).toISOString();
    return upload;
  }

  /** Removes unfinished uploads untouched for longer than the expiry (see getUpload). */
  override async deleteExpired(): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const id of (await this.configstore.list?.()) ?? []) {
      const upload = await this.getUpload(id).catch(() => undefined);
      if (!upload || upload.offset === upload.size) continue;
      if (now > (Date.parse(upload.creation_date ?? '') || 0) + this.getExpiration()) {
        await this.remove(id).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  /** The digest of a completely and cleanly hashed upload, once. */
  takeDigest(id: string, size: number): { size: number; sha256: string; head: Buffer } | undefined {
    const s = this.running.get(id);
    this.running.delete(id);
    if (!s || s.offset !== size) return undefined;
    return s.digest.result();
  }
}
/** Unfinished uploads are kept this long after their last change (not their creation), then swept. */
const TUS_EXPIRY_MS = 24 * 3600_000;

interface TusError {
  status_code: number;
  body: string;
}

const tusError = (err: Pick<AppError, 'status' | 'code' | 'message'>): TusError => ({
  status_code: err.status,
  body: JSON.stringify({ error: { code: err.code, message: err.message } }),
});

/** A disk error while writing an upload: a full disk is told as such (as on every route), anything else is rethrown. */
const diskFailure = (err: NodeJS.ErrnoException): unknown => {
  const mapped = mapError(err);
  return mapped.code === 'STORAGE_FULL' ? tusError(mapped) : err;
};

/**
 * The web Request @tus/server works with, over Node's request. Its body hands Node's chunks on as
 * they are: srvx's default (`Readable.toWeb`) copies every chunk to detach it from a buffer pool,
 * which costs a gigabyte of copying and garbage per gigabyte uploaded. Request chunks are never
 * reused by Node, and tus reads them straight back into a Node stream, so no copy is needed.
 */
function uploadRequest(req: IncomingMessage, res: ServerResponse): Request {
  const request = new NodeRequest({ req, res });
  let stream: ReadableStream<Uint8Array> | undefined;
  let closeStream = () => {};
  const body = (): ReadableStream<Uint8Array> | null => {
    if (req.method === 'GET' || req.method === 'HEAD') return null;
    stream ??= new ReadableStream<Uint8Array>(
      {
        start(controller) {
          let open = true;
          req.on('data', (chunk: Buffer) => {
            if (!open) return;
            controller.enqueue(chunk);
            if ((controller.desiredSize ?? 0) <= 0) req.pause();
          });
          finished(req, (err) => {
            if (!open) return;
            open = false;
            if (err) controller.error(err);
            else controller.close();
          });
          closeStream = () => (open = false);
        },
        pull: () => void req.resume(),
        cancel: (reason) => {
          closeStream();
          req.destroy(reason instanceof Error ? reason : undefined);
        },
      },
      { highWaterMark: 8 },
    );
    return stream;
  };
  return Object.defineProperty(request, 'body', { get: body });
}

/**
 * tus 1.0 resumable uploads at /api/files/tus (@tus/server + @tus/file-store). Partial uploads live
 * under uploads/.tus and survive restarts; a finished upload goes through the same finalisation
 * as every other upload (hash, category, quota, row) and the answer carries the stored file.
 */
export async function tusRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const directory = path.join(core.storage.root, '.tus');
  // The tus hooks see a web Request wrapping Node's request: the caller is found through it.
  const callers = new WeakMap<IncomingMessage, User>();
  const callerOf = (req: Request): User => {
    const node = (req as Request & { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
    const user = node ? callers.get(node) : undefined;
    if (!user) throw tusError(new AppError('UNAUTHENTICATED', 'Log in first'));
    return user;
  };
  const datastore = new HashingFileStore({ directory, expirationPeriodInMilliseconds: TUS_EXPIRY_MS }, core.storage.directIo);

  /** Announced bytes of a user's unfinished tus uploads, from the store's metadata files. */
  const reservedBy = async (userId: number): Promise<number> => {
    let total = 0;
    for (const name of await readdir(directory).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      try {
        const meta = JSON.parse(await readFile(path.join(directory, name), 'utf8')) as {
          size?: number;
          metadata?: Record<string, string | null>;
        };
        if (meta.metadata?.plazaOwner === String(userId)) total += meta.size ?? 0;
      } catch {}
    }
    return total;
  };

  const tus = new TusServer({
    path: TUS_PATH,
    datastore,
    relativeLocation: true,
    respectForwardedHeaders: core.config.trustProxy,
    // Uploads come from Plaza's own pages and from non-browser clients: no CORS for other sites.
    allowedOrigins: () => false,
    maxSize: core.config.maxUploadBytes,
    namingFunction: () => randomBytes(16).toString('hex'),
    onIncomingRequest: async (req, uploadId) => {
      const user = callerOf(req);
      if (req.method === 'POST' || uploadId === '') return;
      const missing = tusError(new AppError('NOT_FOUND', 'No such upload'));
      // Only ids this server names (32 hex) reach the store; another user's upload looks missing.
      if (!/^[0-9a-f]{32}$/.test(uploadId)) throw missing;
      const upload = await datastore.getUpload(uploadId).catch(() => undefined);
      if (!upload || upload.metadata?.plazaOwner !== String(user.id)) throw missing;
    },
    onUploadCreate: async (req, upload) => {
      const user = callerOf(req);
      const name = upload.metadata?.filename ?? upload.metadata?.name;
      if (!name) throw tusError(new AppError('VALIDATION_FAILED', 'Upload-Metadata must carry a filename'));
      if (upload.size === undefined) {
        throw tusError(new AppError('VALIDATION_FAILED', 'Upload-Length is required (deferred length is not supported)'));
      }
      try {
        // Unfinished uploads hold their announced size against the quota, so many parallel
        // creations cannot promise more space than the user has.
        await core.files.uploadLimit(user, upload.size, await reservedBy(user.id));
      } catch (err) {
        if (err instanceof AppError) throw tusError(err);
        throw err;
      }
      return { metadata: { ...upload.metadata, plazaOwner: String(user.id) } };
    },
    onUploadFinish: async (req, upload) => {
      const user = callerOf(req);
      const source = path.join(directory, upload.id);
      try {
        const limit = {
          limit: core.config.maxUploadBytes,
          tooLarge: () => new AppError('FILE_TOO_LARGE', 'File is larger than the upload limit'),
        };
        const hashed = datastore.takeDigest(upload.id, upload.size ?? -1);
        const received = hashed ? await core.storage.adoptHashed(source, hashed) : await core.storage.adopt(source, limit);
        const file = await core.files.finalize(user, received, upload.metadata?.filename ?? upload.metadata?.name ?? 'file');
        return {
          status_code: 200,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ file: fileJson(file) }),
        };
      } catch (err) {
        if (err instanceof AppError) throw tusError(err);
        throw err;
      } finally {
        await rm(source, { force: true });
        await rm(`${source}.json`, { force: true });
      }
    },
  });

  app.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) => done(null));
  const handle = async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
    callers.set(request.raw, requireUser(request).user);
    reply.hijack();
    await sendNodeResponse(reply.raw, await tus.handleWeb(uploadRequest(request.raw, reply.raw)));
  };
  const hide = { schema: { hide: true } };
  for (const url of [TUS_PATH, `${TUS_PATH}/*`]) {
    app.route({ method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'], url, ...hide, handler: handle });
  }
  const sweeper = setInterval(() => {
    tus.cleanUpExpiredUploads().catch(() => {});
  }, 3600_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
}
