import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';
import { requireUser } from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { sendFile } from './downloads.js';
import { FileIdParams } from './files.schemas.js';
import { MAX_SHARE_SECONDS } from './shares.service.js';

const ShareSchema = Type.Object({
  id: Type.String(),
  fileId: Type.String(),
  createdAt: Type.Integer(),
  expiresAt: Type.Integer(),
  maxDownloads: Type.Union([Type.Integer(), Type.Null()]),
  downloads: Type.Integer(),
  revoked: Type.Boolean(),
  active: Type.Boolean(),
});

/** Native share-link management under /api. */
export async function sharesRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['files'];

  r.post('/files/:id/shares', {
    schema: {
      tags,
      summary: 'Create a share link (the token is shown once)',
      params: FileIdParams,
      body: Type.Object(
        {
          expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_SHARE_SECONDS })),
          maxDownloads: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ share: ShareSchema, token: Type.String(), url: Type.String() }), ...errors(400, 401, 404, 415) },
    },
  }, async (request, reply) => {
    const { share, token } = await core.shares.create(requireUser(request).user, request.params.id, request.body, { ip: request.ip });
    const base = core.config.publicUrl ?? '';
    return reply.code(201).send({ share, token, url: `${base}/s/${token}` });
  });

  r.get('/files/:id/shares', {
    schema: { tags, summary: "A file's share links", params: FileIdParams, response: { 200: Type.Object({ shares: Type.Array(ShareSchema) }), ...errors(401, 404) } },
  }, async (request) => ({ shares: await core.shares.list(requireUser(request).user, request.params.id) }));

  r.delete('/shares/:id', {
    schema: {
      tags,
      summary: 'Revoke a share link',
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
      response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(401, 404) },
    },
  }, async (request) => {
    await core.shares.revoke(requireUser(request).user, request.params.id);
    return { ok: true as const };
  });
}

/** GET /s/<token>: the public download behind a share link (no login). */
export async function publicShareRoutes(app: FastifyInstance, { core }: { core: Core }) {
  app.get<{ Params: { token: string } }>('/s/:token', { schema: { hide: true } }, async (request, reply) => {
    const { shareId, file } = await core.shares.open(request.params.token, request.ip);
    // Every body is charged to a download (HEAD and 304 carry none); see download-windows.ts.
    return sendFile(core.files, request, reply, file, {
      beforeServing: (part) => core.shares.admit(shareId, request.ip, part.end - part.start + 1, part.size),
    });
  });
}
