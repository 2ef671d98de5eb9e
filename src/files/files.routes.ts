import { createReadStream } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';
import { requireAdmin, requireUser } from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { sendFile } from './downloads.js';
import {
  FileIdParams,
  FileListQuery,
  FileRef,
  fileJson,
  QuotaBody,
  RenameBody,
  UsageReply,
} from './files.schemas.js';
import { THUMBNAIL_SIZES } from './thumbnails.service.js';
import { acceptMultipart, closeAfterUploadError, receiveMultipart, receiveRaw } from './upload-intake.js';

const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>();
type Routes = ReturnType<typeof typed>;
const tags = ['files'];

/** Native /api/files routes. */
export async function filesRoutes(app: FastifyInstance, { core }: { core: Core }) {
  await acceptMultipart(app, core.config.maxUploadBytes);
  // Raw uploads stream from request.raw: the parser leaves the body unread.
  app.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null));
  app.addHook('onError', async (request, reply) => closeAfterUploadError(request, reply));

  const r = typed(app);
  uploadRoutes(r, core);
  readRoutes(r, core);
  changeRoutes(r, core);
}

/** Multipart and raw uploads. */
function uploadRoutes(r: Routes, core: Core) {
  const FilesReply = Type.Object({ files: Type.Array(FileRef) });

  r.post('/files', {
    schema: {
      tags,
      summary: 'Upload one or more files (multipart/form-data, any file field name)',
      consumes: ['multipart/form-data'],
      response: { 201: FilesReply, ...errors(400, 401, 413, 415, 507) },
    },
  }, async (request, reply) => {
    const owner = requireUser(request).user;
    const stored = await receiveMultipart(core, request, owner);
    return reply.code(201).send({ files: stored.map(fileJson) });
  });

  r.post('/files/raw', {
    schema: {
      tags,
      summary: 'Upload the request body as one file (headers File-Name, optional File-Size)',
      consumes: ['application/octet-stream'],
      response: { 201: Type.Object({ file: FileRef }), ...errors(400, 401, 413, 415, 507) },
    },
  }, async (request, reply) => {
    const owner = requireUser(request).user;
    return reply.code(201).send({ file: fileJson(await receiveRaw(core, request, owner)) });
  });

}

/** Listing, usage, metadata, content and thumbnails. */
function readRoutes(r: Routes, core: Core) {
  r.get('/files', {
    schema: {
      tags,
      summary: 'List files (yours; admins: everyone\'s), paged, by category, sorted',
      querystring: FileListQuery,
      response: {
        200: Type.Object({ files: Type.Array(FileRef), total: Type.Integer(), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
        ...errors(400, 401),
      },
    },
  }, async (request) => {
    const viewer = requireUser(request).user;
    const { files, total, nextCursor } = await core.files.list(viewer, request.query);
    return { files: files.map(fileJson), total, nextCursor };
  });

  r.get('/files/usage', {
    schema: { tags, summary: 'Your storage use and quota', response: { 200: UsageReply, ...errors(401) } },
  }, async (request) => core.files.usage(requireUser(request).user));

  r.get('/files/:id', {
    schema: { tags, summary: 'One file\'s metadata', params: FileIdParams, response: { 200: Type.Object({ file: FileRef }), ...errors(401, 404) } },
  }, async (request) => ({ file: fileJson(await core.files.getVisible(requireUser(request).user, request.params.id)) }));

  r.get('/files/:id/content', {
    schema: {
      tags,
      summary: 'Download (Range, ETag; inline only for raster images, audio/video and PDF)',
      params: FileIdParams,
      response: {
        200: Type.String({ format: 'binary', description: 'The file' }),
        206: Type.String({ format: 'binary', description: 'The requested range' }),
        ...errors(401, 404, 416),
      },
    },
  }, async (request, reply) => {
    const file = await core.files.getReadable(requireUser(request).user, request.params.id);
    return sendFile(core.files, request, reply, file);
  });

  r.get('/files/:id/thumbnail', {
    schema: {
      tags,
      summary: 'A WebP thumbnail of a raster image (made on first request, then cached)',
      params: FileIdParams,
      querystring: Type.Object(
        { size: Type.Optional(Type.Union(THUMBNAIL_SIZES.map((s) => Type.Literal(s)))) },
        { additionalProperties: false },
      ),
      response: { 200: Type.String({ format: 'binary' }), ...errors(400, 401, 404, 422) },
    },
  }, async (request, reply) => {
    const file = await core.files.getReadable(requireUser(request).user, request.params.id);
    const thumb = await core.thumbnails.thumbnail(file, request.query.size ?? 256);
    return reply
      .type('image/webp')
      .header('cache-control', 'private, max-age=86400')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(thumb) as unknown as string);
  });

}

/** Rename, delete, quotas. */
function changeRoutes(r: Routes, core: Core) {
  r.patch('/files/:id', {
    schema: {
      tags,
      summary: 'Rename (the original name only; the stored name never changes)',
      params: FileIdParams,
      body: RenameBody,
      response: { 200: Type.Object({ file: FileRef }), ...errors(400, 401, 404, 415) },
    },
  }, async (request) => ({
    file: fileJson(await core.files.rename(requireUser(request).user, request.params.id, request.body.name)),
  }));

  r.delete('/files/:id', {
    schema: {
      tags,
      summary: 'Delete a file (by id, or by stored name as seed 004 does)',
      params: FileIdParams,
      response: { 200: Type.Object({ ok: Type.Literal(true), detail: Type.String() }), ...errors(401, 404) },
    },
  }, async (request) => {
    const viewer = requireUser(request).user;
    const id = request.params.id;
    const file = id.startsWith('fil_') ? await core.files.getVisible(viewer, id) : await core.files.findVisibleByStoredName(viewer, id);
    await core.files.remove(viewer, file.id);
    return { ok: true as const, detail: `File ${file.storedName} deleted successfully` };
  });

  r.get('/users/:id/usage', {
    schema: {
      tags,
      summary: "A user's storage use and quota (admins: anyone's; users: their own)",
      params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
      response: { 200: UsageReply, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => core.files.usageOfUser(requireUser(request).user, request.params.id));

  r.put('/users/:id/quota', {
    schema: {
      tags,
      summary: 'Admin: set a user\'s storage quota (null = server default)',
      params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
      body: QuotaBody,
      response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request) => {
    await core.files.setQuota(requireAdmin(request).user, request.params.id, request.body.quotaBytes);
    return { ok: true as const };
  });
}
