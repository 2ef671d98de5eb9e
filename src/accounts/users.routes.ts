import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';
import { requireAdmin, requireUser } from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { AdminPatchBody, CreateUserBody, IdParams, ListQuery, ProfilePatchBody, UserRef } from './accounts.schemas.js';

/** Native /api/users routes with SPEC §2 visibility: admins see everyone, users only themselves. */
export async function usersRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['users'];
  const UserReply = Type.Object({ user: UserRef });

  r.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'List users (admins: everyone; users: themselves)',
        querystring: ListQuery,
        response: { 200: Type.Object({ users: Type.Array(UserRef), total: Type.Integer() }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const p = requireUser(request);
      return core.users.listVisible(p.user, request.query.limit, request.query.offset);
    },
  );

  r.post(
    '/users',
    {
      schema: {
        tags,
        summary: 'Create a user (admin only; any registration mode)',
        body: CreateUserBody,
        response: { 201: UserReply, ...errors(400, 401, 403, 409, 415) },
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      const { role, ...input } = request.body;
      const user = await core.accounts.createUser(input, role ?? 'user');
      return reply.code(201).send({ user });
    },
  );

  r.get(
    '/users/me',
    {
      schema: { tags, summary: 'The caller', response: { 200: UserReply, ...errors(401) } },
    },
    async (request) => ({ user: requireUser(request).user }),
  );

  r.patch(
    '/users/me',
    {
      schema: {
        tags,
        summary: 'Change your email or password (password needs currentPassword; ends your other sessions)',
        body: ProfilePatchBody,
        response: {
          200: Type.Object({ user: UserRef, revokedSessions: Type.Integer() }),
          ...errors(400, 401, 409, 415),
        },
      },
    },
    async (request) => core.users.updateOwnProfile(requireUser(request), request.body, { ip: request.ip }),
  );

  r.get(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'One user (404 when not visible to you)',
        params: IdParams,
        response: { 200: UserReply, ...errors(400, 401, 404) },
      },
    },
    async (request) => ({ user: await core.users.getVisible(requireUser(request).user, request.params.id) }),
  );

  r.patch(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'Admin: change role, disable (ends their sessions) or email',
        params: IdParams,
        body: AdminPatchBody,
        response: { 200: UserReply, ...errors(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => ({
      user: await core.users.adminUpdate(requireAdmin(request).user, request.params.id, request.body, { ip: request.ip }),
    }),
  );

  r.delete(
    '/users/:id',
    {
      schema: {
        tags,
        summary: 'Admin: delete a user',
        params: IdParams,
        response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await core.users.remove(requireAdmin(request).user, request.params.id, { ip: request.ip });
      return { ok: true as const };
    },
  );
}
