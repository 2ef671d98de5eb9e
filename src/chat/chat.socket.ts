import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { Principal } from '../accounts/model.js';
import type { Core } from '../app.js';
import { mapError } from '../http/errors.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import { createFrameLimit } from './frame-limit.js';
import { CLOSE, closeIfOverCap } from './close-codes.js';
import type { HeartbeatEntry } from './heartbeat.js';
import type { HubConnection } from './hub.js';
import type { ChatMessage, HubEvent, RoomInfo } from './model.js';
import {
  type ClientFrame,
  errorFrame,
  eventFrame,
  helloFrame,
  parseClientFrame,
  replyFrame,
} from './protocol.js';

/**
 * The native WebSocket transport: one socket per connection, frames handled strictly in order,
 * replies and events rendered by protocol.ts. A client that falls too far behind is dropped
 * rather than buffered without limit.
 */

/** Frames received but not yet handled, per connection; more are refused (a client outrunning the server). */
const MAX_PENDING_FRAMES = 256;

export interface LiveSocket extends HeartbeatEntry {
  conn: HubConnection;
}

/** An unmasked, final text frame (RFC 6455 §5.2), built once per message whatever the fan-out. */
export function encodeTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Hub events reach many sockets: each is rendered and framed once (a message once, however it travels). */
const framed = new WeakMap<object, Buffer>();
function eventBytes(event: HubEvent): Buffer {
  const key = event.kind === 'message' ? event.message : event;
  let bytes = framed.get(key);
  if (!bytes) {
    bytes = encodeTextFrame(eventFrame(event));
    framed.set(key, bytes);
  }
  return bytes;
}

/**
 * Corks a socket until the current burst of work is over, so a batch of frames becomes one write. The bytes
 * corked this turn are counted apart: they are not a slow reader's backlog (yet).
 */
const corked = new Map<Socket, number>();
let uncorkScheduled = false;
function writeCorked(raw: Socket, bytes: Buffer) {
  const before = corked.get(raw);
  if (before === undefined) {
    raw.cork();
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      // After the current run of microtasks: a batch's fan-out (one flush) completes within it.
      process.nextTick(() => {
        uncorkScheduled = false;
        for (const s of corked.keys()) s.uncork();
        corked.clear();
      });
    }
  }
  corked.set(raw, (before ?? 0) + bytes.length);
  raw.write(bytes);
}

/** Waits (briefly, repeatedly) until the socket's send buffer is below `highWater`. */
async function drained(socket: WebSocket, highWater: number): Promise<void> {
  while (socket.readyState === socket.OPEN && socket.bufferedAmount > highWater) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (socket.readyState !== socket.OPEN) throw new AppError('BAD_REQUEST', 'Connection closed during replay');
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
  let goodbye = false;
  let dropped = false;
  let closed = false;
  let pending = 0;

  // Events raised before `hello` went out (the user's own "joined") wait for it.
  let early: HubEvent[] | undefined = [];
  const raw = (socket as unknown as { _socket?: Socket })._socket;

  /** Every frame goes out here: a client this far behind is dropped rather than buffered for. */
  function writable(): boolean {
    if (dropped || socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount - (raw ? (corked.get(raw) ?? 0) : 0) > maxBufferedBytes) {
      dropSlowConsumer();
      return false;
    }
    return true;
  }
  function dropSlowConsumer() {
    if (dropped) return;
    dropped = true;
    socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind: reconnect and resume');
    // A client that does not even read the close frame is cut off.
    setTimeout(() => socket.terminate(), 5000).unref();
  }
  function send(data: string) {
    if (writable()) socket.send(data);
  }
  const pace = () => drained(socket, replayHighWater);

  function deliver(event: HubEvent) {
    if (early) {
      early.push(event);
      return;
    }
    if (!writable()) return;
    // Events fan out to many sockets: framed once, written as bytes, and a batch of them leaves
    // in one write per socket (ws has no compression here, so its own writes go straight to the
    // same socket and order is kept).
    if (raw) writeCorked(raw, eventBytes(event));
    else socket.send(eventFrame(event));
  }

  const conn: HubConnection = {
    id: randomId('con'),
    participant: chat.participantOf(user),
    deliver,
    // Live messages piled up while a replay waited for this socket to drain.
    overflow: dropSlowConsumer,
  };
  const entry: LiveSocket = { conn, socket, sessionId: principal.sessionId, alive: true };
  live.add(entry);

  const rateLimited = createFrameLimit(framesPer10s);

  function replyError(err: unknown, ref?: string) {
    const m = mapError(err);
    if (m.status >= 500) log.error({ err }, 'chat frame failed');
    // Mapped server-side conditions (storage full, database unavailable) say what to do; only an
    // unknown failure stays vague.
    send(errorFrame(m.code, m.code === 'INTERNAL' ? 'Something went wrong; try again' : m.message, ref));
  }

  async function roomForSend(frame: ClientFrame): Promise<number> {
    if (frame.room !== undefined) return frame.room;
    const other = await chat.resolveUser(frame.user as number | string);
    return (await chat.rooms.openDm(user, other)).id;
  }

  function ackWhenCommitted(frame: ClientFrame, committed: Promise<{ message: ChatMessage; duplicate: boolean }>) {
    committed.then(
      ({ message, duplicate }) =>
        send(
          replyFrame('ack', frame.ref, {
            id: message.id,
            room: message.room,
            seq: message.seq,
            ...(message.clientId ? { clientId: message.clientId } : {}),
            duplicate,
          }),
        ),
      (err) => replyError(err, frame.ref),
    );
  }

  async function handle(frame: ClientFrame): Promise<void> {
    const ref = frame.ref;
    switch (frame.type) {
      case 'send': {
        const roomId = await roomForSend(frame);
        const input = { body: frame.body as string, clientId: frame.clientId };
        ackWhenCommitted(frame, (await chat.messages.enqueue(user, roomId, input)).committed);
        return;
      }
      case 'share': {
        const roomId = await roomForSend(frame);
        const queued = await chat.messages.enqueueShare(user, roomId, frame.fileId as string, frame.clientId);
        ackWhenCommitted(frame, queued.committed);
        return;
      }
      case 'history': {
        const h = await chat.messages.history(user, frame.room as number, frame.before, frame.limit);
        send(replyFrame('history', ref, { room: h.room.id, messages: h.messages, hasMore: h.hasMore }));
        return;
      }
      case 'resume': {
        const results: Array<{ room: number; replayed: number; lastSeq: number }> = [];
        for (const c of frame.rooms ?? []) {
          try {
            const r = await chat.messages.replay(user, conn, c.room, c.after, { pace });
            results.push({ room: c.room, replayed: r.replayed, lastSeq: r.room.lastSeq });
          } catch (err) {
            replyError(err, ref);
          }
        }
        send(replyFrame('resumed', ref, { rooms: results }));
        return;
      }
      case 'join': {
        let room: RoomInfo;
        if (frame.room !== undefined) room = await chat.rooms.join(user, frame.room);
        else {
          const found = await chat.rooms.findByName(frame.name as string);
          if (!found) throw new AppError('NOT_FOUND', 'No such room');
          room = await chat.rooms.join(user, found.id);
        }
        send(replyFrame('joined', ref, { room }));
        return;
      }
      case 'create': {
        const room = await chat.rooms.create(user, frame.name as string, frame.visibility ?? 'public');
        send(replyFrame('created', ref, { room }));
        return;
      }
      case 'leave':
        await chat.rooms.leave(user, frame.room as number);
        send(replyFrame('left', ref, { room: frame.room }));
        return;
      case 'rooms':
        send(replyFrame('rooms', ref, { rooms: await chat.rooms.list(user) }));
        return;
      case 'members':
        send(replyFrame('members', ref, { room: frame.room, members: await chat.rooms.members(user, frame.room as number) }));
        return;
      case 'invite': {
        const target = await chat.resolveUser(frame.user as number | string);
        await chat.rooms.invite(user, frame.room as number, target);
        send(replyFrame('invited', ref, { room: frame.room, user: { id: target.id, name: target.username } }));
        return;
      }
      case 'remove': {
        const target = await chat.resolveUser(frame.user as number | string);
        await chat.rooms.removeMember(user, frame.room as number, target.id);
        send(replyFrame('removed', ref, { room: frame.room, user: { id: target.id, name: target.username } }));
        return;
      }
      case 'dm': {
        const other = await chat.resolveUser(frame.user as number | string);
        send(replyFrame('dm', ref, { room: await chat.rooms.openDm(user, other) }));
        return;
      }
      case 'ping':
        send(replyFrame('pong', ref, {}));
        return;
      case 'bye':
        goodbye = true;
        socket.close(CLOSE.NORMAL, 'Goodbye');
        return;
    }
  }

  /** Cursors given at connect: those rooms were held from the first instant, so order is strict. */
  async function replayAtConnect(rooms: RoomInfo[]) {
    if (resumeAtConnect.size === 0) return;
    const followed = new Set(rooms.map((r) => r.id));
    const results: Array<{ room: number; replayed: number; lastSeq: number }> = [];
    for (const [room, after] of resumeAtConnect) {
      try {
        const r = await chat.messages.replay(user, conn, room, after, { pace, begun: followed.has(room) });
        results.push({ room, replayed: r.replayed, lastSeq: r.room.lastSeq });
      } catch (err) {
        replyError(err);
      }
    }
    send(replyFrame('resumed', undefined, { rooms: results }));
  }

  // Frames are handled one after another (a send's ack may still be waiting for its commit).
  const ready = chat.connect(conn, resumeAtConnect).then(
    async (rooms) => {
      send(helloFrame(conn.id, { id: user.id, name: user.username }, rooms));
      const waiting = early ?? [];
      early = undefined;
      for (const e of waiting) deliver(e);
      await replayAtConnect(rooms);
    },
    (err) => {
      // Frames the client sent meanwhile are dropped: this connection never joined the hub.
      closed = true;
      replyError(err);
      if (!closeIfOverCap(socket, err)) socket.close(CLOSE.INTERNAL_ERROR, 'Could not load your rooms');
    },
  );
  let chain: Promise<void> = ready.catch(() => {});

  socket.on('message', (data, isBinary) => {
    if (rateLimited()) {
      send(errorFrame('RATE_LIMITED', `At most ${framesPer10s} frames per 10 seconds; slow down`));
      return;
    }
    if (isBinary) {
      send(errorFrame('BAD_REQUEST', 'Frames are JSON text, not binary'));
      return;
    }
    if (pending >= MAX_PENDING_FRAMES) {
      send(errorFrame('RATE_LIMITED', 'Too many frames waiting to be handled; wait for replies'));
      return;
    }
    pending++;
    const text = data.toString();
    chain = chain.then(async () => {
      pending--;
      // A closed connection's queued frames are dropped: nobody would hear the answers.
      if (closed) return;
      let frame: ClientFrame;
      try {
        frame = parseClientFrame(text);
      } catch (err) {
        replyError(err);
        return;
      }
      try {
        await handle(frame);
      } catch (err) {
        replyError(err, frame.ref);
      }
    });
  });
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('error', (err) => log.debug({ err }, 'chat socket error'));
  socket.on('close', (code) => {
    closed = true;
    live.delete(entry);
    void ready.then(() => chat.disconnect(conn, goodbye || code === 1000));
  });
}
