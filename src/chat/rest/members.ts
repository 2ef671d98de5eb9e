import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireUser } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { Member } from '../chat.schemas.js';
import { RoomParams, strict, tags, UserRef } from './params.js';

/** /api/chat room members: who is in a room (with presence), invitations, removals. */
export function memberRoutes(app: FastifyInstance, core: Core) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { chat } = core;

  r.get('/chat/rooms/:room/members', {
    schema: {
      tags,
      summary: "A room's members and their presence",
      params: RoomParams,
      response: { 200: Type.Object({ members: Type.Array(Member) }), ...errors(401, 404) },
    },
  }, async (request) => ({ members: await chat.rooms.members(requireUser(request).user, request.params.room) }));

  r.post('/chat/rooms/:room/invites', {
    schema: {
      tags,
      summary: 'Invite a user (room admins)',
      params: RoomParams,
      body: Type.Object({ user: UserRef }, strict),
      response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request) => {
    const target = await chat.resolveUser(request.body.user);
    await chat.rooms.invite(requireUser(request).user, request.params.room, target);
    return { ok: true as const };
  });

  r.delete('/chat/rooms/:room/members/:user', {
    schema: {
      tags,
      summary: 'Remove a member (room admins)',
      params: Type.Object({ room: Type.Integer({ minimum: 1 }), user: Type.Integer({ minimum: 1 }) }),
      response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(401, 403, 404) },
    },
  }, async (request) => {
    await chat.rooms.removeMember(requireUser(request).user, request.params.room, request.params.user);
    return { ok: true as const };
  });
}
