import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';

/** Native health routes under /api. Seed 004's /health lives in compat/adcluster.ts. */
export async function healthRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['ops'];

  r.get(
    '/health',
    {
      schema: {
        tags,
        summary: 'Liveness: the process answers',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), uptimeSeconds: Type.Integer() }),
        },
      },
    },
    async () => core.health.liveness(),
  );

  const Ready = Type.Object({
    status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')]),
    database: Type.Object({
      dialect: Type.String(),
      status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
      latencyMs: Type.Number(),
    }),
    storage: Type.Object({
      status: Type.Union([Type.Literal('ok'), Type.Literal('full'), Type.Literal('read-only'), Type.Literal('unavailable')]),
    }),
    backup: Type.Object({
      lastAt: Type.Union([Type.String({ description: 'UTC start of the newest archive in data/backups' }), Type.Null()]),
    }),
    redis: Type.Optional(
      Type.Object(
        { status: Type.Union([Type.Literal('up'), Type.Literal('down')]) },
        { description: 'Several instances only. Down is degraded but still 200: this instance serves HTTP and its own chat' },
      ),
    ),
  });
  r.get(
    '/ready',
    {
      schema: { tags, summary: 'Readiness: the database answers and the data dir takes writes', response: { 200: Ready, 503: Ready } },
    },
    async (_request, reply) => {
      const [c, lastAt] = await Promise.all([core.health.check(), core.backups.lastBackupAt().catch(() => undefined)]);
      if (!c.ok) reply.code(503).header('retry-after', '5');
      const redis = core.cluster?.link.state();
      return {
        status: c.ok && redis !== 'down' ? ('ready' as const) : ('degraded' as const),
        ...(redis ? { redis: { status: redis } } : {}),
        database: { dialect: core.health.dialect, status: c.database, latencyMs: c.latencyMs },
        storage: { status: c.storage },
        backup: { lastAt: lastAt ?? null },
      };
    },
  );
}
