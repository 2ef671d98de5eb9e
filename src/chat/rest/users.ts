import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireAdmin, requireUser } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { MAX_BODY_CHARS, Presence } from '../chat.schemas.js';
import { strict, tags, UserParams } from './params.js';

/** /api/chat users: server-side notices to a user's connections, and presence. */
export function userRoutes(app: FastifyInstance, core: Core) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { chat } = core;

  r.post('/chat/users/:user/messages', {
    schema: {
      tags,
      summary: "Push a notice to a user's live connections (admins; anyone to themself)",
      params: UserParams,
      body: Type.Object({ message: Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS }) }, strict),
      response: { 200: Type.Object({ delivered: Type.Integer(), presence: Presence }), ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request) => {
    const me = requireUser(request).user;
    if (me.id !== request.params.user) requireAdmin(request);
    const target = await chat.resolveUser(request.params.user);
    return chat.sendToUser(chat.participantOf(me), target, request.body.message);
  });

  r.get('/chat/users/:user/presence', {
    schema: {
      tags,
      summary: "A user's presence: yours, and that of users who share a room with you (admins: anyone); others are 404 like unknown users",
      params: UserParams,
      response: { 200: Type.Object({ presence: Presence, connections: Type.Integer() }), ...errors(401, 404) },
    },
  }, async (request) => chat.presenceFor(requireUser(request).user, request.params.user));
}
