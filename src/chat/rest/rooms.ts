import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireUser } from '../../http/auth.js';
import { errors } from '../../http/schemas.js';
import { MAX_NAME_CHARS, ReadCursor, Room } from '../chat.schemas.js';
import { RoomParams, strict, tags, UserRef } from './params.js';

/** /api/chat rooms: list, create, show, join, leave, and direct-message rooms. */
export function roomRoutes(app: FastifyInstance, core: Core) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { chat } = core;

  r.get('/chat/rooms', {
    schema: { tags, summary: 'Public rooms and the rooms you belong to', response: { 200: Type.Object({ rooms: Type.Array(Room) }), ...errors(401) } },
  }, async (request) => ({ rooms: await chat.rooms.list(requireUser(request).user) }));

  r.post('/chat/rooms', {
    schema: {
      tags,
      summary: 'Create a room (you become its admin)',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: MAX_NAME_CHARS }), visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])) }, strict),
      response: { 201: Type.Object({ room: Room }), ...errors(400, 401, 409, 415) },
    },
  }, async (request, reply) => {
    const room = await chat.rooms.create(requireUser(request).user, request.body.name, request.body.visibility ?? 'public');
    return reply.code(201).send({ room });
  });

  r.get('/chat/rooms/:room', {
    schema: { tags, summary: 'One room', params: RoomParams, response: { 200: Type.Object({ room: Room }), ...errors(401, 404) } },
  }, async (request) => ({ room: await chat.rooms.getVisible(requireUser(request).user, request.params.room) }));

  r.post('/chat/rooms/:room/join', {
    schema: { tags, summary: 'Join a public room, or a private one you were invited to', params: RoomParams, response: { 200: Type.Object({ room: Room }), ...errors(401, 404) } },
  }, async (request) => ({ room: await chat.rooms.join(requireUser(request).user, request.params.room) }));

  r.post('/chat/rooms/:room/leave', {
    schema: { tags, summary: 'Leave a room', params: RoomParams, response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(401, 403, 404) } },
  }, async (request) => {
    await chat.rooms.leave(requireUser(request).user, request.params.room);
    return { ok: true as const };
  });

  r.post('/chat/rooms/:room/read', {
    schema: {
      tags,
      summary: 'Mark a room you belong to read up to a sequence number (the cursor only moves forward)',
      params: RoomParams,
      body: Type.Object({ seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }, strict),
      response: { 200: ReadCursor, ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request) => chat.rooms.markRead(requireUser(request).user, request.params.room, request.body.seq));

  r.post('/chat/dms', {
    schema: {
      tags,
      summary: 'Open (or find) the direct-message room with another user',
      body: Type.Object({ user: UserRef }, strict),
      response: { 200: Type.Object({ room: Room }), ...errors(400, 401, 404, 415) },
    },
  }, async (request) => {
    const other = await chat.resolveUser(request.body.user);
    return { room: await chat.rooms.openDm(requireUser(request).user, other) };
  });
}
