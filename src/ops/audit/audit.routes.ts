import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireAdmin } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { AUDIT_ACTIONS } from '../../shared/audit-events.js';

const Entry = Type.Object({
  id: Type.Integer(),
  at: Type.Integer({ description: 'ms since the epoch' }),
  action: Type.String(),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  actor: Type.Object({ id: Type.Union([Type.Integer(), Type.Null()]), username: Type.Union([Type.String(), Type.Null()]) }),
  ip: Type.Union([Type.String(), Type.Null()]),
  target: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const Query = Type.Object({
  action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
  actorId: Type.Optional(Type.Integer({ minimum: 1 })),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "text in the actor's name, target, address or detail" })),
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch (inclusive)' })),
  until: Type.Optional(Type.Integer({ minimum: 0, description: 'ms since the epoch (exclusive)' })),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'the next page: entries older than this id' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

/** Admin `/api/admin/audit`: the audit log, newest first, filtered and keyset-paged. */
export async function auditRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/admin/audit',
    {
      schema: {
        tags: ['ops'],
        summary: 'The audit log, newest first (admin)',
        querystring: Query,
        response: { 200: Type.Object({ entries: Type.Array(Entry), next: Type.Union([Type.Integer(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      requireAdmin(request);
      const q = request.query;
      const limit = q.limit ?? 100;
      const entries = await core.audit.list({
        action: q.action,
        outcome: q.outcome,
        actorId: q.actorId,
        text: q.q,
        since: q.since,
        until: q.until,
        before: q.before,
        limit,
      });
      const last = entries.at(-1);
      return { entries, next: entries.length === limit && last ? last.id : null };
    },
  );
}
