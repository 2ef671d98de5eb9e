import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../accounts/model.js';
import type { Core } from '../app.js';
import { isCrossSiteRequest, requireAdmin, requireUser } from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import { hashToken, randomToken } from '../shared/ids.js';
import { heartbeatOptions } from './heartbeat.js';
import { type LiveSocket, serveNativeSocket } from './chat.socket.js';
import { startHeartbeat } from './heartbeat.js';

const TICKET_TTL_MS = 30_000;
const RESUME_PATTERN = '^[0-9]{1,15}:[0-9]{1,15}(,[0-9]{1,15}:[0-9]{1,15}){0,499}$';

type SocketRequest = FastifyRequest & { chatPrincipal?: Principal };

/** `?resume=3:41,7:12` → room 3 after 41, room 7 after 12 (validated by the route's schema). */
function parseResume(value: string | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const pair of value ? value.split(',') : []) {
    const [room, after] = pair.split(':').map(Number);
    out.set(room as number, after as number);
  }
  return out;
}

const Room = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('room'), Type.Literal('dm')]),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('private')]),
  lastSeq: Type.Integer(),
  createdAt: Type.Integer(),
  memberCount: Type.Optional(Type.Integer()),
  role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('member')])),
});
const Message = Type.Object({
  id: Type.String(),
  room: Type.Integer(),
  seq: Type.Integer(),
  sender: Type.Object({ id: Type.Union([Type.Integer(), Type.Null()]), name: Type.String() }),
  kind: Type.Union([Type.Literal('text'), Type.Literal('file'), Type.Literal('system')]),
  body: Type.String(),
  file: Type.Optional(Type.Object({ id: Type.String(), name: Type.String(), size: Type.Integer(), type: Type.String() })),
  clientId: Type.Optional(Type.String()),
  createdAt: Type.Integer(),
});
const Sent = Type.Object({ message: Message, duplicate: Type.Boolean(), delivered: Type.Integer() });
const RoomParams = Type.Object({ room: Type.Integer({ minimum: 1 }) });
const UserRef = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: 64 })]);
const Presence = Type.Union([Type.Literal('online'), Type.Literal('disconnected'), Type.Literal('offline')]);
const ClientId = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' });
const strict = { additionalProperties: false } as const;

/** Native chat: the WebSocket endpoint and its REST companions under /api/chat. */
export async function chatRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const { chat } = core;

  // Browsers cannot set headers on a WebSocket: they fetch a short-lived, single-use ticket first.
  const tickets = new Map<string, { sessionId: string; expires: number }>();
  const live = new Set<LiveSocket>();

  const stopHeartbeat = startHeartbeat(
    live,
    heartbeatOptions(core, {
      onBeat: () => {
        const now = Date.now();
        for (const [k, t] of tickets) if (t.expires < now) tickets.delete(k);
      },
    }),
  );
  app.addHook('onClose', async () => stopHeartbeat());

  async function socketPrincipal(request: FastifyRequest): Promise<Principal> {
    const ticket = (request.query as { ticket?: unknown }).ticket;
    if (typeof ticket === 'string' && ticket !== '') {
      const key = hashToken(ticket);
      const t = tickets.get(key);
      tickets.delete(key);
      const p = t && t.expires >= Date.now() ? await core.accounts.authenticateSession(t.sessionId) : null;
      if (!p) throw new AppError('INVALID_TOKEN', 'The chat ticket is unknown, used or expired');
      return p;
    }
    const p = requireUser(request);
    // A cookie rides along with any page's WebSocket: only our own pages may use it.
    if (p.via === 'cookie' && isCrossSiteRequest(core, request)) {
      throw new AppError('CSRF_REJECTED', 'Cross-site WebSocket refused');
    }
    return p;
  }

  r.get('/chat', {
    websocket: true,
    schema: {
      tags,
      summary: 'The native chat WebSocket (see docs/chat-protocol.md)',
      querystring: Type.Object({
        ticket: Type.Optional(Type.String({ maxLength: 200 })),
        resume: Type.Optional(
          Type.String({ maxLength: 12_000, pattern: RESUME_PATTERN, description: 'room:lastSeq pairs, comma-separated: replayed before anything live' }),
        ),
      }),
    },
    preValidation: async (request) => {
      (request as SocketRequest).chatPrincipal = await socketPrincipal(request);
    },
  }, (socket, request) => {
    const principal = (request as SocketRequest).chatPrincipal as Principal;
    serveNativeSocket(core, socket, principal, request.log, live, parseResume(request.query.resume));
  });

  r.post('/chat/ticket', {
    schema: {
      tags,
      summary: 'A single-use ticket (30 s) to open the chat WebSocket from a browser: /api/chat?ticket=…',
      response: { 200: Type.Object({ ticket: Type.String(), expiresInSeconds: Type.Integer() }), ...errors(401) },
    },
  }, async (request) => {
    const p = requireUser(request);
    const ticket = randomToken();
    tickets.set(hashToken(ticket), { sessionId: p.sessionId, expires: Date.now() + TICKET_TTL_MS });
    return { ticket, expiresInSeconds: TICKET_TTL_MS / 1000 };
  });

  r.get('/chat/rooms', {
    schema: { tags, summary: 'Public rooms and the rooms you belong to', response: { 200: Type.Object({ rooms: Type.Array(Room) }), ...errors(401) } },
  }, async (request) => ({ rooms: await chat.rooms.list(requireUser(request).user) }));

  r.post('/chat/rooms', {
    schema: {
      tags,
      summary: 'Create a room (you become its admin)',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])) }, strict),
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

  r.get('/chat/rooms/:room/members', {
    schema: {
      tags,
      summary: "A room's members and their presence",
      params: RoomParams,
      response: {
        200: Type.Object({
          members: Type.Array(Type.Object({ id: Type.Integer(), username: Type.String(), role: Type.String(), joinedAt: Type.Integer(), presence: Type.Optional(Presence) })),
        }),
        ...errors(401, 404),
      },
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
      body: Type.Object({ body: Type.String({ minLength: 1, maxLength: 16000 }), clientId: Type.Optional(ClientId) }, strict),
      response: { 201: Sent, ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request, reply) => {
    const user = requireUser(request).user;
    const { body, clientId } = request.body;
    return reply.code(201).send(await chat.sendToRoom(user, request.params.room, body, clientId));
  });

  r.post('/chat/rooms/:room/files', {
    schema: {
      tags,
      summary: 'Share one of your files into a room: its members can download it',
      params: RoomParams,
      body: Type.Object({ fileId: Type.String({ minLength: 1, maxLength: 64 }), clientId: Type.Optional(ClientId) }, strict),
      response: { 201: Sent, ...errors(400, 401, 403, 404, 415) },
    },
  }, async (request, reply) => {
    const sent = await chat.messages.shareFile(requireUser(request).user, request.params.room, request.body.fileId, request.body.clientId);
    return reply.code(201).send(sent);
  });

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

  r.post('/chat/users/:user/messages', {
    schema: {
      tags,
      summary: "Push a notice to a user's live connections (admins; anyone to themself)",
      params: Type.Object({ user: Type.Integer({ minimum: 1 }) }),
      body: Type.Object({ message: Type.String({ minLength: 1, maxLength: 16000 }) }, strict),
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
      params: Type.Object({ user: Type.Integer({ minimum: 1 }) }),
      response: { 200: Type.Object({ presence: Presence, connections: Type.Integer() }), ...errors(401, 404) },
    },
  }, async (request) => chat.presenceFor(requireUser(request).user, request.params.user));
}
