import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { finished } from 'node:stream';
import { Server as TusServer } from '@tus/server';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { requireUser } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { describeFailure, FAULT_MESSAGE, logFailure } from '../shared/error-map.js';
import { AppError, ERRORS, type ErrorCode } from '../shared/errors.js';
import { fileJson } from './files.schemas.js';
import { HashingFileStore, TUS_ID, type TusError, tusError } from './tus-store.js';
import { closeAfterUploadError } from './upload-intake.js';

export const TUS_PATH = '/api/files/tus';
const TUS_BODY = 'application/offset+octet-stream';

/** Unfinished uploads are kept this long after their last change (not their creation), then swept. */
const TUS_EXPIRY_MS = 24 * 3600_000;

/** What one tus request carries through @tus/server's hooks, which see only a web Request. */
interface Call {
  request: FastifyRequest;
  user: User;
  /** The upload this request finalised (read back once by tus before it answers). */
  finishedId?: string;
  /** Set when the answer is one of Plaza's JSON errors. */
  error?: { retryAfter?: number | undefined };
}

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
 * as every other upload (hash, category, quota, row) and the answer carries the stored file. A
 * file is listed only when it is exactly the bytes announced in Upload-Length and received.
 */
/** tus's own refusals (412, 409 offset conflicts, 413, 410…) by status, in Plaza's codes. */
const TUS_REFUSALS: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'UPLOAD_CONFLICT',
  410: 'UPLOAD_EXPIRED',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Every error answer in Plaza's `{"error":{"code","message"}}` shape: tus writes its own refusals
 * as plain text ("Invalid upload-length"); that text becomes the message. tus clients read only
 * the status and tus headers, which are kept.
 */
async function inPlazaShape(response: Response): Promise<Response> {
  if (response.status < 400 || response.headers.get('content-type')?.startsWith('application/json')) return response;
  const code = TUS_REFUSALS[response.status] ?? (response.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST');
  const text = (await response.text()).trim().slice(0, 200);
  // By the one rule: a fault's own text never reaches the client.
  const message = ERRORS[code].kind === 'fault' ? FAULT_MESSAGE : text || 'The upload request was refused';
  const headers = new Headers(response.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.delete('content-length');
  return new Response(JSON.stringify({ error: { code, message } }), { status: response.status, headers });
}

/** What the tus server's hooks need: the store, its folder, and the Plaza request behind a web Request. */
interface TusParts {
  core: Core;
  datastore: HashingFileStore;
  directory: string;
  callOf: (req: Request) => Call;
}

/** @tus/server with Plaza's hooks: owners, quotas, finalisation, and errors mapped by the one rule. */
function createTusServer({ core, datastore, directory, callOf }: TusParts): TusServer {
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

  // A client's refusal becomes tus's own error; the rest (busy, database down, disk full, a bug)
  // goes on to onResponseError, which maps, logs and gives Retry-After by the one rule.
  const asTusError = (err: unknown): unknown =>
    err instanceof AppError && describeFailure(err).kind === 'client' ? tusError(err) : err;

  return new TusServer({
    path: TUS_PATH,
    datastore,
    relativeLocation: true,
    respectForwardedHeaders: core.config.trustProxyEnabled,
    // Uploads come from Plaza's own pages and from non-browser clients: no CORS for other sites.
    allowedOrigins: () => false,
    maxSize: core.config.maxUploadBytes,
    namingFunction: () => randomBytes(16).toString('hex'),
    onIncomingRequest: async (req, uploadId) => {
      const { user } = callOf(req);
      if (req.method === 'POST' || uploadId === '') return;
      const missing = tusError(new AppError('NOT_FOUND', 'No such upload'));
      // Only ids this server names reach the store; another user's upload looks missing.
      if (!TUS_ID.test(uploadId)) throw missing;
      const upload = await datastore.getUpload(uploadId).catch(() => undefined);
      if (!upload || upload.metadata?.plazaOwner !== String(user.id)) throw missing;
    },
    onUploadCreate: async (req, upload) => {
      const { user } = callOf(req);
      const name = upload.metadata?.filename ?? upload.metadata?.name;
      if (!name) throw tusError(new AppError('VALIDATION_FAILED', 'Upload-Metadata must carry a filename'));
      if (upload.size === undefined) {
        throw tusError(new AppError('VALIDATION_FAILED', 'Upload-Length is required (deferred length is not supported)'));
      }
      // Unfinished uploads hold their announced size against the quota, so many parallel
      // creations cannot promise more space than the user has.
      await core.files.uploadLimit(user, upload.size, await reservedBy(user.id)).catch((err) => {
        throw asTusError(err);
      });
      return { metadata: { ...upload.metadata, plazaOwner: String(user.id) } };
    },
    onUploadFinish: async (req, upload) => {
      const call = callOf(req);
      const source = path.join(directory, upload.id);
      try {
        const limit = {
          limit: core.config.maxUploadBytes,
          tooLarge: () => new AppError('FILE_TOO_LARGE', 'File is larger than the upload limit'),
        };
        const hashed = datastore.takeDigest(upload.id, upload.size ?? -1);
        const received = hashed ? await core.storage.adoptHashed(source, hashed) : await core.storage.adopt(source, limit);
        if (received.size !== upload.size) {
          throw new AppError('UPLOAD_INCOMPLETE', `The upload holds ${received.size} bytes but ${upload.size} were announced`);
        }
        const file = await core.files.finalize(call.user, received, upload.metadata?.filename ?? upload.metadata?.name ?? 'file');
        call.finishedId = upload.id;
        await datastore.finish(upload);
        return {
          // A creation that carried the whole file is still a creation: 201 (with its Location).
          status_code: req.method === 'POST' ? 201 : 200,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify({ file: fileJson(file) }),
        };
      } catch (err) {
        await datastore.discard(upload.id);
        throw asTusError(err);
      }
    },
    // Anything else thrown (a full or read-only disk, the database) is mapped like on every route.
    onResponseError: (req, err) => {
      const call = callOf(req);
      if (typeof (err as Partial<TusError>).status_code === 'number') {
        if (String((err as TusError).body).startsWith('{"error"')) call.error = {};
        return undefined;
      }
      const mapped = mapError(err);
      logFailure(call.request.log, err, mapped, 'tus request failed');
      call.error = { retryAfter: mapped.retryAfter };
      return tusError(mapped);
    },
  });
}

export async function tusRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const directory = path.join(core.storage.root, '.tus');
  const calls = new WeakMap<IncomingMessage, Call>();
  const callOf = (req: Request): Call => {
    const node = (req as Request & { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
    const call = node ? calls.get(node) : undefined;
    if (!call) throw tusError(new AppError('UNAUTHENTICATED', 'Log in first'));
    return call;
  };
  const datastore = new HashingFileStore({ directory, expirationPeriodInMilliseconds: TUS_EXPIRY_MS }, core.storage.directIo);
  const tus = createTusServer({ core, datastore, directory, callOf });

  // Bodies stay unread for tus (PATCH) or are refused (see `handle`): no parser may eat them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  app.addHook('onError', async (request, reply) => closeAfterUploadError(request, reply));
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const call: Call = { request, user: requireUser(request).user };
    // tus ignores a creation body of any other type; the client would think its bytes were kept.
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (request.method === 'POST' && hasBody && request.headers['content-type'] !== TUS_BODY) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `A body sent with a tus creation must be ${TUS_BODY}`);
    }
    calls.set(request.raw, call);
    reply.hijack();
    try {
      const response = await tus.handleWeb(uploadRequest(request.raw, reply.raw));
      if (call.error) {
        response.headers.set('content-type', 'application/json; charset=utf-8');
        if (call.error.retryAfter !== undefined) response.headers.set('retry-after', String(call.error.retryAfter));
      }
      await sendNodeResponse(reply.raw, await inPlazaShape(response));
    } finally {
      if (call.finishedId) datastore.forget(call.finishedId);
    }
  };
  const hide = { schema: { hide: true } };
  for (const url of [TUS_PATH, `${TUS_PATH}/*`]) {
    app.route({ method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'], url, ...hide, handler: handle });
  }
  // With several instances (one shared uploads directory) one of them sweeps each hour.
  const sweep = async () => void (await tus.cleanUpExpiredUploads());
  const sweeper = setInterval(() => {
    void (core.cluster ? core.cluster.once('tus-sweep', 3_000_000, sweep) : sweep()).catch(() => {});
  }, 3600_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
}
