import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireAdmin } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';

const Archive = Type.Object({
  name: Type.String(),
  size: Type.Integer({ description: 'bytes' }),
  createdAt: Type.String({ description: 'UTC time the backup started (ISO 8601)' }),
});

/** A name, never a path: Plaza's own pattern, so `../`, `%2e%2e%2f`, `/abs`, NUL fail validation. */
const NameParams = Type.Object({
  name: Type.String({ pattern: '^plaza-backup-[0-9]{8}T[0-9]{9}Z(-[a-z0-9-]{1,32})?\\.tar$', maxLength: 80 }),
});

/** Admin backups under /api/admin/backups: create (while serving), list, download (streamed), delete. */
export async function backupRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['ops'];

  r.post(
    '/admin/backups',
    {
      schema: {
        tags,
        summary: 'Write a backup now (admin; the server keeps serving)',
        response: {
          201: Type.Object({
            backup: Archive,
            durationMs: Type.Integer(),
            rowCounts: Type.Record(Type.String(), Type.Integer()),
            files: Type.Integer(),
            fileBytes: Type.Integer(),
            missing: Type.Array(Type.String()),
          }),
          ...errors(401, 403, 409, 503, 507),
        },
      },
    },
    async (request, reply) => {
      const admin = requireAdmin(request).user;
      const b = await core.backups.create({ by: { actor: admin, ip: request.ip } });
      return reply.code(201).send({
        backup: { name: b.name, size: b.size, createdAt: b.manifest.createdAt },
        durationMs: Math.round(b.durationMs),
        rowCounts: b.manifest.rowCounts,
        files: b.manifest.fileCount,
        fileBytes: b.manifest.fileBytes,
        missing: b.missing,
      });
    },
  );

  r.get(
    '/admin/backups',
    {
      schema: { tags, summary: 'Archives in data/backups, newest first (admin)', response: { 200: Type.Object({ backups: Type.Array(Archive) }), ...errors(401, 403) } },
    },
    async (request) => {
      requireAdmin(request);
      return { backups: await core.backups.list() };
    },
  );

  r.get(
    '/admin/backups/:name',
    {
      schema: {
        tags,
        summary: 'Download an archive (admin; streamed)',
        params: NameParams,
        response: { 200: Type.Unsafe({ type: 'string', format: 'binary' }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      const file = await core.backups.find(request.params.name);
      const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => {
        throw new AppError('NOT_FOUND', `No backup named ${request.params.name}`);
      });
      const { size } = await fh.stat();
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-length', size)
        .header('content-disposition', `attachment; filename="${request.params.name}"`)
        .header('cache-control', 'no-store')
        .send(fh.createReadStream());
    },
  );

  r.delete(
    '/admin/backups/:name',
    {
      schema: { tags, summary: 'Delete an archive (admin)', params: NameParams, response: { 200: Type.Object({ deleted: Type.String() }), ...errors(400, 401, 403, 404) } },
    },
    async (request) => {
      requireAdmin(request);
      await core.backups.remove(request.params.name);
      return { deleted: request.params.name };
    },
  );
}
