import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Principal } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import { describeFailure, logFailure } from '../../shared/error-map.js';
import { randomId } from '../../shared/ids.js';
import { createOrderedQueue, type OrderedQueue } from '../../shared/ordered-queue.js';
import { CLOSE, closeIfOverCap } from '../close-codes.js';
import { createFrameLimit } from '../frame-limit.js';
import type { HeartbeatEntry } from '../heartbeat.js';
import type { HubConnection } from '../hub.js';
import { errorFrame, helloFrame, parseClientFrame } from '../protocol.js';
import type { NativeConnection } from './context.js';
import { clientIdOf, handleFrame, refOf } from './frame-handlers.js';
import { replayAtConnect } from './replay.js';
import { createSocketOutput, drained, type SocketOutput } from './writer.js';

/**
 * A native chat connection's life: joined to the hub, greeted with `hello` (and the replay asked
 * for at connect), its frames handled strictly in order, and detached when the socket closes. A
 * client that falls too far behind is dropped rather than buffered without limit (writer.ts).
 */

/** Frames received but not yet handled, per connection; more are refused (a client outrunning the server). */
const MAX_PENDING_FRAMES = 256;

export interface LiveSocket extends HeartbeatEntry {
  conn: HubConnection;
}

/** A failure said as an error frame; the one rule (shared/error-map.ts) decides the words and the log. */
function replyError(out: SocketOutput, log: FastifyBaseLogger, err: unknown, ref?: string, clientId?: string) {
  const f = describeFailure(err);
  logFailure(log, err, f, 'chat frame failed');
  out.send(errorFrame(f.code, f.message, ref, f.retryAfter, clientId));
}

/** Joins the hub and says hello; if the rooms will not load, the connection ends there (its frames are dropped). */
function greet(c: NativeConnection, queue: OrderedQueue, resumeAtConnect: ReadonlyMap<number, number>): Promise<void> {
  return c.chat.connect(c.conn, resumeAtConnect).then(
    async (rooms) => {
      c.out.send(helloFrame(c.conn.id, { id: c.user.id, name: c.user.username }, rooms));
      c.out.greeted();
      await replayAtConnect(c, rooms, resumeAtConnect);
    },
    (err) => {
      // Frames the client sent meanwhile are dropped: this connection never joined the hub.
      queue.close();
      c.replyError(err);
      if (!closeIfOverCap(c.socket, err)) c.socket.close(CLOSE.INTERNAL_ERROR, 'Could not load your rooms');
    },
  );
}

/** One incoming frame: refused at once (rate, binary, backlog) or queued behind the ones before it. */
function onFrame(c: NativeConnection, queue: OrderedQueue, overBudget: () => boolean, framesPer10s: number, data: RawData, isBinary: boolean) {
  if (overBudget()) {
    c.out.send(errorFrame('RATE_LIMITED', `At most ${framesPer10s} frames per 10 seconds; slow down`));
    return;
  }
  if (isBinary) {
    c.out.send(errorFrame('BAD_REQUEST', 'Frames are JSON text, not binary'));
    return;
  }
  if (queue.pending >= MAX_PENDING_FRAMES) {
    c.out.send(errorFrame('RATE_LIMITED', 'Too many frames waiting to be handled; wait for replies'));
    return;
  }
  const text = data.toString();
  // A closed connection's queued frames are dropped by the queue: nobody would hear the answers.
  queue.push(async () => {
    const frame = parseClientFrame(text);
    try {
      await handleFrame(c, frame);
    } catch (err) {
      c.replyError(err, refOf(frame), clientIdOf(frame));
    }
  });
}

export function serveNativeSocket(
  core: Core,
  socket: WebSocket,
  principal: Principal,
  log: FastifyBaseLogger,
  live: Set<LiveSocket>,
  resumeAtConnect: ReadonlyMap<number, number> = new Map(),
): void {
  const { chat } = core;
  const { maxBufferedBytes, framesPer10s } = core.config.chat;
  const replayHighWater = Math.min(1024 * 1024, maxBufferedBytes / 4);
  const user = principal.user;
  const out = createSocketOutput(socket, maxBufferedBytes);
  const conn: HubConnection = {
    id: randomId('con'),
    participant: chat.participantOf(user),
    deliver: out.deliver,
    // Live messages piled up while a replay waited for this socket to drain.
    overflow: out.dropSlowConsumer,
  };
  const entry: LiveSocket = { conn, socket, sessionId: principal.sessionId, userId: principal.user.id, alive: true };
  live.add(entry);
  const c: NativeConnection = {
    chat,
    user,
    conn,
    socket,
    out,
    pace: () => drained(socket, replayHighWater),
    replyError: (err, ref, clientId) => replyError(out, log, err, ref, clientId),
    goodbye: false,
  };

  // A frame that fails to parse is answered without a ref; a handled one's failure carries it (onFrame).
  const queue = createOrderedQueue((err) => c.replyError(err));
  const ready = greet(c, queue, resumeAtConnect);
  // Frames wait for hello (and the replay at connect), then are handled one after another.
  queue.push(() => ready.catch(() => {}));
  const overBudget = createFrameLimit(framesPer10s);

  socket.on('message', (data, isBinary) => onFrame(c, queue, overBudget, framesPer10s, data, isBinary));
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('error', (err) => log.debug({ err }, 'chat socket error'));
  socket.on('close', (code) => {
    queue.close();
    live.delete(entry);
    void ready.then(() => chat.disconnect(conn, c.goodbye || code === 1000));
  });
}
