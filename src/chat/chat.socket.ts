import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../accounts/model.js';
import type { Core } from '../app.js';
import { requireUser } from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { MAX_RESUME_ROOMS } from './chat.schemas.js';
import { heartbeatOptions, startHeartbeat } from './heartbeat.js';
import { type LiveSocket, serveNativeSocket } from './native-socket/connection.js';
import { createTicketBook, socketPrincipal } from './native-socket/tickets.js';

/**
 * The native chat WebSocket's front door: `GET /api/chat` (upgraded) and the tickets browsers open
 * it with. Each connection is served by native-socket/connection.ts; its frames are declared in
 * chat.schemas.ts and documented in the OpenAPI document (components ChatClientFrame / ChatServerFrame).
 */

const RESUME_PATTERN = `^[0-9]{1,15}:[0-9]{1,15}(,[0-9]{1,15}:[0-9]{1,15}){0,${MAX_RESUME_ROOMS - 1}}$`;
const NOT_WEBSOCKET = 'This is a WebSocket endpoint: connect with Upgrade: websocket';

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

/** A plain GET (no Upgrade header) is told what this is, in Plaza's error shape, before any login is spent. */
function notWebSocket(reply: FastifyReply) {
  return reply.code(426).header('upgrade', 'websocket').send({ error: { code: 'BAD_REQUEST', message: NOT_WEBSOCKET } });
}

const DESCRIPTION =
  'Upgrade to a WebSocket (bearer token, session cookie from a Plaza page, or `?ticket=` from POST /api/chat/ticket). ' +
  'Frames are JSON text with a `type`: the client sends `#/components/schemas/ChatClientFrame`, the server sends ' +
  '`#/components/schemas/ChatServerFrame` (first `hello`; every reply carries the `ref` of the frame it answers; a failed ' +
  'frame gets an `error` frame, never a closed socket). Close codes: 1000 goodbye, 1008 too far behind, 1009 a frame ' +
  'over 64 KiB, 1011 rooms would not load, 4001 session ended, 4029 too many connections. docs/chat-protocol.md has the whole protocol.';

export async function chatSocketRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const tickets = createTicketBook(core);
  const live = new Set<LiveSocket>();

  const stopHeartbeat = startHeartbeat(live, heartbeatOptions(core, { onBeat: () => tickets.sweep() }));
  app.addHook('onClose', async () => stopHeartbeat());

  r.route({
    method: 'GET',
    url: '/chat',
    schema: {
      tags,
      summary: 'The native chat WebSocket (see docs/chat-protocol.md)',
      description: DESCRIPTION,
      querystring: Type.Object({
        ticket: Type.Optional(Type.String({ maxLength: 200 })),
        resume: Type.Optional(
          Type.String({ maxLength: 12_000, pattern: RESUME_PATTERN, description: 'room:lastSeq pairs, comma-separated: replayed before anything live' }),
        ),
      }),
      response: { 101: Type.Null({ description: 'Switching Protocols: the chat WebSocket is open' }), ...errors(400, 401, 403, 426) },
    },
    onRequest: async (request, reply) => {
      if (!request.ws) return notWebSocket(reply);
    },
    preValidation: async (request) => {
      (request as SocketRequest).chatPrincipal = await socketPrincipal(core, tickets, request);
    },
    handler: async (_request, reply) => notWebSocket(reply),
    wsHandler: (socket, request) => {
      const principal = (request as SocketRequest).chatPrincipal as Principal;
      serveNativeSocket(core, socket, principal, request.log, live, parseResume(request.query.resume));
    },
  });

  r.post('/chat/ticket', {
    schema: {
      tags,
      summary: 'A single-use ticket (30 s) to open the chat WebSocket from a browser: /api/chat?ticket=…',
      response: { 200: Type.Object({ ticket: Type.String(), expiresInSeconds: Type.Integer() }), ...errors(401) },
    },
  }, async (request) => tickets.issue(requireUser(request).sessionId));
}
