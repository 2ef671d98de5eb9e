import type { FastifyInstance } from 'fastify';
import type { Core } from '../app.js';
import { memberRoutes } from './rest/members.js';
import { messageRoutes } from './rest/messages.js';
import { roomRoutes } from './rest/rooms.js';
import { userRoutes } from './rest/users.js';

/**
 * Native chat's REST companions under /api/chat, in groups (chat/rest/). The WebSocket itself and
 * its tickets are chat.socket.ts's, registered beside this by src/server.ts.
 */
export async function chatRoutes(app: FastifyInstance, { core }: { core: Core }) {
  roomRoutes(app, core);
  memberRoutes(app, core);
  messageRoutes(app, core);
  userRoutes(app, core);
}
