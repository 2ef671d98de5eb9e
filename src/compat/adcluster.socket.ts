import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../app.js';
import { CLOSE } from '../chat/close-codes.js';
import { AppError } from '../shared/errors.js';
import { serveEcho } from './adcluster/echo.js';
import { type Identity, identify } from './adcluster/identity.js';
import { type Live, startLiveHeartbeat } from './adcluster/live.js';
import { serveCommands } from './adcluster/connection.js';
import { GROUP_TEST, PAGE_HEADERS, SOCKET_TEST } from './adcluster/test-page.js';
import { adclusterRestRoutes, type SocketToo } from './adcluster/ws-rest.js';

/**
 * Seed 004 (Adcluster)'s WebSocket text commands and its `/api/ws` REST, as a thin adapter over
 * the chat service. Its "groups" are Plaza rooms (by name), so seed 004 clients and native clients
 * in the same room see each other; its `/send_to` is a server-side send to a user's (or guest's)
 * connections. This file mounts the parts in `adcluster/`:
 * - `identity.ts`: who connects (a user whose username is the client id, or a guest), checked
 *   before the upgrade and refused in the native JSON error format;
 * - `connection.ts` (a command connection's life), `commands.ts` (the commands), `render.ts` (what each hub event
 *   shows), `words.ts` (every reply string), `echo.ts` (`/ws`), `ws-rest.ts` (the REST),
 *   `test-page.ts` (the two test pages).
 *
 * Endpoints (each also under `/api`): `/ws` echoes and needs no login; `/ws/{client_id}` and
 * `/ws/{client_id}/{group}` speak the commands. A plain GET (no `Upgrade: websocket`) on these
 * answers 426 in the native JSON error format, before any login check or group join.
 */

function upgradeRequired(reply: FastifyReply): AppError {
  reply.header('upgrade', 'websocket').header('connection', 'Upgrade');
  return new AppError('UPGRADE_REQUIRED', 'This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)');
}

/** Seed 004's WebSocket endpoints, its REST (`/api/ws/…` and `/ws/…`) and its two test pages. Registered at the root scope. */
export async function adclusterSocketRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const live = new Set<Live>();
  const identities = new WeakMap<FastifyRequest, Identity>();
  const echoes = { count: 0 };
  // JSON only, as on the native API.
  app.removeContentTypeParser('text/plain');
  const stopHeartbeat = startLiveHeartbeat(core, live);
  app.addHook('onClose', async () => stopHeartbeat());

  const upgradeOnly = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.ws) throw upgradeRequired(reply);
  };
  const preValidation = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.ws) throw upgradeRequired(reply);
    identities.set(request, await identify(core, request));
  };
  const onCommands = (socket: WebSocket, request: FastifyRequest) => {
    const identity = identities.get(request);
    if (!identity) {
      socket.close(CLOSE.INTERNAL_ERROR, 'No identity');
      return;
    }
    serveCommands(core, socket, identity, request.log, live);
  };

  /** A REST path that is also the socket path of the client named like its segment: only an upgrade is that client. */
  const socketToo: SocketToo = (clientId) => ({
    preValidation: async (request) => {
      if (request.ws) identities.set(request, await identify(core, request, clientId));
    },
    wsHandler: onCommands,
  });

  for (const prefix of ['', '/api']) {
    app.get(`${prefix}/ws`, { websocket: true, preValidation: upgradeOnly }, (socket, request) =>
      serveEcho(core, socket, request.log, live, echoes),
    );
    app.get(`${prefix}/ws/:client_id`, { websocket: true, preValidation }, onCommands);
    app.get(`${prefix}/ws/:client_id/:group`, { websocket: true, preValidation }, onCommands);
    adclusterRestRoutes(app, core, prefix, socketToo);
  }

  const hide = { schema: { hide: true } };
  const page = (html: string) => async (_request: FastifyRequest, reply: FastifyReply) => reply.headers(PAGE_HEADERS).send(html);
  app.get('/socket_test.html', hide, page(SOCKET_TEST));
  app.get('/group_messaging_test.html', hide, page(GROUP_TEST));
}
