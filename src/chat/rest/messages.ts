import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireUser } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { MAX_BODY_CHARS, MAX_FILE_ID_CHARS, Message } from '../chat.schemas.js';
import { ClientId, RoomParams, strict, tags } from './params.js';

/** /api/chat room messages: history, sends, file shares. */

const Sent = Type.Object({ message: Message, duplicate: Type.Boolean(), delivered: Type.Integer() });

export function messageRoutes(app: FastifyInstance, core: Core) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { chat } = core;

  r.get('/chat/rooms/:room/messages', {
    schema: {
      tags,
      summary: 'Page back through history: messages before `before` (a sequence number), oldest first',
      params: RoomParams,
      querystring: Type.Object({ before: Type.Optional(Type.Integer({ minimum: 1 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }, strict),
      response: { 200: Type.Object({ messages: Type.Array(Message), hasMore: Type.Boolean() }), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const h = await chat.messages.history(requireUser(request).user, request.params.room, request.query.before, request.query.limit);
    return { messages: h.messages, hasMore: h.hasMore };
  });

  r.post('/chat/rooms/:room/messages', {
    schema: {
      tags,
      summary: 'Send a message into a room; answers the stored message and how many connections got it',
      params: RoomParams,
      body: Type.Object({ body: Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS }), clientId: Type.Optional(ClientId) }, strict),
      response: { 201: Sent, ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request, reply) => {
    const user = requireUser(request).user;
    const { body, clientId } = request.body;
    // The schema counts code points; the limit is in UTF-16 units (as on the socket): past it, the same code.
    if (body.length > MAX_BODY_CHARS) throw new AppError('VALIDATION_FAILED', `"body" is longer than ${MAX_BODY_CHARS} characters`);
    return reply.code(201).send(await chat.sendToRoom(user, request.params.room, body, clientId));
  });

  r.post('/chat/rooms/:room/files', {
    schema: {
      tags,
      summary: 'Share one of your files into a room: its members can download it',
      params: RoomParams,
      body: Type.Object({ fileId: Type.String({ minLength: 1, maxLength: MAX_FILE_ID_CHARS }), clientId: Type.Optional(ClientId) }, strict),
      response: { 201: Sent, ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request, reply) => {
    const sent = await chat.messages.shareFile(requireUser(request).user, request.params.room, request.body.fileId, request.body.clientId);
    return reply.code(201).send(sent);
  });
}
