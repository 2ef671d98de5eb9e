import { createHash, timingSafeEqual } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';
import { errors } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics`: Prometheus text, off unless PLAZA_METRICS_TOKEN is set (then 404 like any
 * unknown path), and only for `Authorization: Bearer <that token>` (compared in constant time).
 */
export async function metricsRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const metrics = core.metrics;
  const token = core.config.metricsToken;
  if (!metrics || !token) return;
  const expected = digest(token);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/metrics',
    {
      schema: {
        hide: true,
        headers: Type.Object({ authorization: Type.Optional(Type.String({ maxLength: 1024 })) }),
        response: { 200: Type.String(), ...errors(401) },
      },
    },
    async (request, reply) => {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(given), expected)) {
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('UNAUTHENTICATED', 'Metrics need Authorization: Bearer <PLAZA_METRICS_TOKEN>');
      }
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(await metrics.render());
    },
  );
}
