import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../app.js';
import { CLOSE } from '../../chat/close-codes.js';
import { createFrameLimit } from '../../chat/frame-limit.js';
import type { Live } from './live.js';
import { words } from './words.js';

/** Echo sockets need no login: their number is bounded. */
const MAX_ECHO_SOCKETS = 1000;

/** Seed 004's `/ws`: every text frame comes back as `Message text was: <msg>`. */
export function serveEcho(core: Core, socket: WebSocket, log: FastifyBaseLogger, live: Set<Live>, echoes: { count: number }) {
  const { framesPer10s, maxBufferedBytes } = core.config.chat;
  const limited = createFrameLimit(framesPer10s);
  socket.on('error', (err) => log.debug({ err }, 'seed 004 echo socket error'));
  if (echoes.count >= MAX_ECHO_SOCKETS) {
    socket.close(CLOSE.TRY_AGAIN_LATER, 'Too many echo connections; try again later');
    return;
  }
  echoes.count++;
  // Heartbeats find dead echo peers too.
  const entry: Live = { socket, sessionId: null, alive: true };
  live.add(entry);
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('close', () => {
    echoes.count--;
    live.delete(entry);
  });
  socket.on('message', (data, isBinary) => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > maxBufferedBytes) {
      socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind');
      return;
    }
    if (isBinary) socket.send(words.error(words.onlyText));
    else if (limited()) socket.send(words.error(words.tooMany(framesPer10s)));
    else socket.send(words.echo(data.toString()));
  });
}
