import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { requireUser } from '../http/auth.js';
import { AppError } from '../shared/errors.js';
import { fileJson } from './files.schemas.js';
import { createDigest } from './storage.js';

export const TUS_PATH = '/api/files/tus';

interface Running {
  digest: ReturnType<typeof createDigest>;
  offset: number;
}

/**
 * A FileStore that hashes each PATCH as it is written, so a finished upload needs no second pass
 * over its bytes. The running hash lives in memory: after a restart, or if a PATCH fails part-way,
 * the upload is hashed in place at the end instead.
 */
class HashingFileStore extends FileStore {
  private readonly running = new Map<string, Running>();

  override async write(readable: IncomingMessage | Readable, id: string, offset: number): Promise<number> {
    let state = this.running.get(id);
    if (offset === 0) {
      state = { digest: createDigest(), offset: 0 };
      this.running.set(id, state);
    }
    if (!state || state.offset !== offset) {
      this.running.delete(id);
      return super.write(readable, id, offset);
    }
    const s = state;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        s.digest.update(chunk);
        done(null, chunk);
      },
    });
    try {
      // pipe() would not pass the source's errors on, leaving the write (and its descriptor) open.
      readable.once('error', (err) => meter.destroy(err));
      const written = await super.write(readable.pipe(meter), id, offset);
      if (written !== s.digest.size) this.running.delete(id);
      else s.offset = written;
      return written;
    } catch (err) {
      this.running.delete(id);
      throw err;
    }
  }

  /** The digest of a completely and cleanly hashed upload, once. */
  takeDigest(id: string, size: number): { size: number; sha256: string; head: Buffer } | undefined {
    const s = this.running.get(id);
    this.running.delete(id);
    if (!s || s.offset !== size) return undefined;
    return s.digest.result();
  }
}
/** Unfinished uploads are kept this long after their last change, then swept. */
const TUS_EXPIRY_MS = 24 * 3600_000;

interface TusError {
  status_code: number;
  body: string;
}

const tusError = (err: AppError): TusError => ({
  status_code: err.status,
  body: JSON.stringify({ error: { code: err.code, message: err.message } }),
});

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
  const datastore = new HashingFileStore({ directory, expirationPeriodInMilliseconds: TUS_EXPIRY_MS });

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
    await tus.handle(request.raw, reply.raw);
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
