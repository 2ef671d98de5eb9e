import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { Core } from '../../app.js';
import { CLOSE, closeIfOverCap } from '../../chat/close-codes.js';
import { createFrameLimit } from '../../chat/frame-limit.js';
import type { HubConnection } from '../../chat/hub.js';
import type { RoomInfo } from '../../chat/model.js';
import { describeFailure, logFailure } from '../../shared/error-map.js';
import { randomId } from '../../shared/ids.js';
import { createOrderedQueue } from '../../shared/ordered-queue.js';
import { handleText } from './commands.js';
import type { Identity } from './identity.js';
import type { Live } from './live.js';
import { createRenderer } from './render.js';
import type { Session } from './session.js';
import { words } from './words.js';

/**
 * A seed 004 command connection's life: checks, the welcome, following the user's groups (and the
 * path's), frames handled strictly in order, detach on close. Replies are one text frame each; a
 * client too far behind is closed (1008); past the user's chat socket cap (every transport
 * together) the client gets `Error: Too many chat connections: …` instead of the welcome, then 4029.
 */

/** Writes text frames; a client too far behind is closed instead (and cut off if it never acknowledges). */
function createWriter(core: Core, socket: WebSocket) {
  const { maxBufferedBytes } = core.config.chat;
  let dropped = false;
  return function write(text: string) {
    if (dropped || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > maxBufferedBytes) {
      dropped = true;
      socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind: reconnect');
      setTimeout(() => socket.terminate(), 5000).unref();
      return;
    }
    socket.send(text);
  };
}

function createSession(core: Core, socket: WebSocket, identity: Identity, log: FastifyBaseLogger): Session {
  const me = identity.participant;
  const known = new Map<number, RoomInfo>();
  const write = createWriter(core, socket);
  const render = createRenderer(core, me, known);
  const conn: HubConnection = {
    id: randomId('con'),
    participant: me,
    deliver(event) {
      const text = render(event);
      if (text !== undefined) write(text);
    },
  };
  const replyError = (err: unknown) => {
    const f = describeFailure(err);
    logFailure(log, err, f, 'seed 004 command failed');
    write(words.error(f.kind === 'fault' ? words.fault : f.message));
  };
  return { core, identity, me, user: identity.user, conn, known, write, replyError };
}

/** Admits the connection (one guest per id, the per-user socket cap) and greets it; false when refused. */
function admit(s: Session, socket: WebSocket): boolean {
  const { chat } = s.core;
  // Two guests racing for one id both passed the upgrade check; the first one attached wins.
  if (s.user === null && chat.connectionsOf(s.me.key) > 0) {
    s.write(words.error(`Client '${s.me.name}' is already connected`));
    socket.close(CLOSE.POLICY_VIOLATION, 'Client id in use');
    return false;
  }
  // Past the per-user cap nothing is attached and no welcome goes out (chat.connect runs in this same turn).
  try {
    chat.admit(s.me);
  } catch (err) {
    s.replyError(err);
    closeIfOverCap(socket, err);
    return false;
  }
  // The welcome goes out before anything the hub may deliver.
  s.write(words.welcome(s.me.name, s.identity.group?.name));
  return true;
}

/** Attaches to the hub: the user's groups, then the path's group. */
function attach(s: Session, socket: WebSocket): Promise<void> {
  const { chat } = s.core;
  return chat.connect(s.conn).then(
    (rooms) => {
      for (const r of rooms) s.known.set(r.id, r);
      const group = s.identity.group;
      if (group) {
        s.known.set(group.id, group);
        chat.follow(s.conn, group);
      }
    },
    (err) => {
      s.replyError(err);
      socket.close(CLOSE.INTERNAL_ERROR, 'Could not load your groups');
    },
  );
}

export function serveCommands(core: Core, socket: WebSocket, identity: Identity, log: FastifyBaseLogger, live: Set<Live>) {
  const { framesPer10s } = core.config.chat;
  const s = createSession(core, socket, identity, log);
  const entry: Live = { socket, sessionId: identity.sessionId, userId: identity.user?.id ?? null, alive: true, ...(identity.user === null ? { guest: s.me.name } : {}) };
  if (!admit(s, socket)) return;
  live.add(entry);
  const ready = attach(s, socket);
  // Frames run strictly in order, after the groups are loaded; those sent just before a close still run.
  const frames = createOrderedQueue(s.replyError);
  frames.push(() => ready);
  const limited = createFrameLimit(framesPer10s);

  socket.on('message', (data, isBinary) => {
    if (isBinary) return s.write(words.error(words.onlyText));
    if (limited()) return s.write(words.error(words.tooMany(framesPer10s)));
    const text = data.toString();
    frames.push(() => handleText(s, text));
  });
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('error', (err) => log.debug({ err }, 'seed 004 socket error'));
  socket.on('close', (code) => {
    live.delete(entry);
    void ready.then(() => core.chat.disconnect(s.conn, code === 1000));
  });
}
