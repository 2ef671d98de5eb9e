import { type ChatBus, roomChannel, userChannel } from './bus.js';
import type { ChatMessage, HubEvent, Participant, PresenceEvent, PresenceState } from './model.js';

/**
 * The pure core of real-time chat: which connections are subscribed to which rooms, who is
 * present where, and fan-out. No sockets and no database: transports hand it connections that can
 * `deliver` events, and the chat service tells it about rooms. Every room event travels through
 * the bus, so other instances' connections see it too.
 */

export interface HubConnection {
  readonly id: string;
  readonly participant: Participant;
  /** Must not throw; a transport that cannot deliver closes its own socket. */
  deliver(event: HubEvent): void;
  /**
   * Live messages held back during replays outgrew the limit (a client reading far slower than
   * its rooms talk): the transport drops the connection, and the client resumes later. The hub
   * has already let go of what it held and delivers nothing more to this connection. Called in
   * the middle of a fan-out: it must not detach synchronously (closing the socket is fine).
   * Optional for transports that never replay, since only a replay holds messages.
   */
  overflow?(): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface HubOptions {
  bus: ChatBus;
  graceMs: number;
  timers?: Timers;
  /** Live messages held for one connection while it replays a room; past it, the connection overflows. */
  maxHeldBytes?: number;
}

interface RoomRef {
  id: number;
  name: string;
}

/**
 * Where one connection stands in one room: the highest sequence delivered, the first one that
 * arrived live, and — while a replay runs — live messages held back and the replay's progress.
 */
interface Cursor {
  seq: number;
  firstLive?: number;
  held?: ChatMessage[];
  /** Roughly what `held` weighs: its bodies' UTF-8 bytes plus a fixed share per message. */
  heldBytes?: number;
  replayed?: number;
}

interface ConnState {
  conn: HubConnection;
  rooms: Map<number, Cursor>;
  /** Held too much during a replay: on its way out, receives nothing more. */
  overflowed?: boolean;
}

/** What a held message is taken to weigh beyond its body (ids, names, framing). */
const HELD_OVERHEAD_BYTES = 256;
/** Default bound on live messages held for one connection during a replay. */
export const DEFAULT_MAX_HELD_BYTES = 4 * 1024 * 1024;

interface UserState {
  participant: Participant;
  conns: Set<ConnState>;
  graceTimer?: unknown;
}

/** A participant's presence in one room: their connections there (none while disconnected). */
interface Presence {
  participant: Participant;
  conns: Set<ConnState>;
}

interface LocalRoom {
  ref: RoomRef;
  presence: Map<string, Presence>;
  unsubscribeBus: () => void;
}

export type Hub = ReturnType<typeof createHub>;

export function createHub({ bus, graceMs, timers = systemTimers, maxHeldBytes = DEFAULT_MAX_HELD_BYTES }: HubOptions) {
  const conns = new Map<string, ConnState>();
  const users = new Map<string, UserState>();
  const rooms = new Map<number, LocalRoom>();
  const userSubs = new Map<string, () => void>();

  function deliverTo(state: ConnState, event: HubEvent): number {
    if (state.overflowed) return 0;
    if (event.kind === 'message') {
      const cursor = state.rooms.get(event.message.room);
      if (!cursor) return 0;
      if (cursor.held) {
        const weight = Buffer.byteLength(event.message.body) + HELD_OVERHEAD_BYTES;
        // All its rooms together: a client may replay many rooms at once.
        let total = weight;
        for (const c of state.rooms.values()) total += c.heldBytes ?? 0;
        if (total > maxHeldBytes) {
          overflow(state);
          return 0;
        }
        cursor.heldBytes = (cursor.heldBytes ?? 0) + weight;
        cursor.held.push(event.message);
        return 1;
      }
      // Exactly once: a message already replayed (or seen) is never delivered again.
      if (event.message.seq <= cursor.seq) return 0;
      cursor.seq = event.message.seq;
      cursor.firstLive ??= event.message.seq;
    }
    state.conn.deliver(event);
    return 1;
  }

  /** Lets go of everything held for the connection and has its transport drop it. */
  function overflow(state: ConnState) {
    state.overflowed = true;
    for (const cursor of state.rooms.values()) {
      delete cursor.held;
      delete cursor.heldBytes;
    }
    state.conn.overflow?.();
  }

  function onRoomEvent(roomId: number, event: HubEvent): number {
    const room = rooms.get(roomId);
    if (!room) return 0;
    let n = 0;
    for (const p of room.presence.values()) for (const s of p.conns) n += deliverTo(s, event);
    return n;
  }

  function onUserEvent(key: string, event: HubEvent): number {
    const user = users.get(key);
    if (!user) return 0;
    if (event.kind === 'membership') {
      for (const s of [...user.conns]) {
        if (event.event === 'added') subscribe(s.conn, event.room);
        else unsubscribe(s.conn, event.room.id);
      }
    }
    let n = 0;
    for (const s of user.conns) n += deliverTo(s, event);
    return n;
  }

  function count(room: LocalRoom): number {
    return room.presence.size;
  }

  function announce(room: LocalRoom, participant: Participant, event: PresenceEvent) {
    void bus
      .publish(roomChannel(room.ref.id), {
        kind: 'presence',
        room: room.ref.id,
        roomName: room.ref.name,
        event,
        user: { id: participant.userId, name: participant.name },
        count: count(room),
      })
      .catch(() => {});
  }

  function localRoom(ref: RoomRef): LocalRoom {
    let room = rooms.get(ref.id);
    if (!room) {
      const unsubscribeBus = bus.subscribe(roomChannel(ref.id), (e) => onRoomEvent(ref.id, e));
      room = { ref, presence: new Map(), unsubscribeBus };
      rooms.set(ref.id, room);
    }
    return room;
  }

  function dropRoomIfEmpty(room: LocalRoom) {
    if (room.presence.size === 0) {
      room.unsubscribeBus();
      rooms.delete(room.ref.id);
    }
  }

  /** A participant leaves a room's presence; `event` says how (left, offline). */
  function removePresence(room: LocalRoom, key: string, event: PresenceEvent) {
    const p = room.presence.get(key);
    if (!p) return;
    room.presence.delete(key);
    announce(room, p.participant, event);
    dropRoomIfEmpty(room);
  }

  function attach(conn: HubConnection): void {
    const key = conn.participant.key;
    const state: ConnState = { conn, rooms: new Map() };
    conns.set(conn.id, state);
    let user = users.get(key);
    if (!user) {
      user = { participant: conn.participant, conns: new Set() };
      users.set(key, user);
      userSubs.set(
        key,
        bus.subscribe(userChannel(key), (e) => onUserEvent(key, e)),
      );
    }
    // Back within a grace period: each room the participant returns to hears "rejoined"
    // (subscribe), and the running timer settles any room it does not return to.
    user.conns.add(state);
  }

  /**
   * Subscribes a connection to a room's live events; the participant becomes present there.
   */
  function subscribe(conn: HubConnection, ref: RoomRef): void {
    const state = conns.get(conn.id);
    if (!state) return;
    if (state.rooms.has(ref.id)) return;
    state.rooms.set(ref.id, { seq: 0 });
    const room = localRoom(ref);
    const key = conn.participant.key;
    const present = room.presence.get(key);
    if (present) {
      const wasDisconnected = present.conns.size === 0;
      present.conns.add(state);
      if (wasDisconnected) announce(room, present.participant, 'rejoined');
      return;
    }
    room.presence.set(key, { participant: conn.participant, conns: new Set([state]) });
    announce(room, conn.participant, 'joined');
  }

  /**
   * Starts replaying a subscribed room from `after`: live messages are held until `endReplay`, so
   * replayed and live messages arrive in order, each exactly once.
   */
  function beginReplay(conn: HubConnection, roomId: number, after: number): boolean {
    const state = conns.get(conn.id);
    const cursor = state?.rooms.get(roomId);
    if (!state || state.overflowed || !cursor || cursor.held) return false;
    cursor.held = [];
    cursor.heldBytes = 0;
    cursor.replayed = after;
    return true;
  }

  function replayMessage(conn: HubConnection, message: ChatMessage): void {
    const state = conns.get(conn.id);
    const cursor = state?.rooms.get(message.room);
    if (!state || !cursor?.held || message.seq <= (cursor.replayed ?? 0)) return;
    // Messages from the first live one on were already delivered live.
    if (cursor.firstLive !== undefined && message.seq >= cursor.firstLive) return;
    cursor.replayed = message.seq;
    if (message.seq > cursor.seq) cursor.seq = message.seq;
    state.conn.deliver({ kind: 'message', message });
  }

  /** Replay is over: held live messages newer than the replay go out, in order. */
  function endReplay(conn: HubConnection, roomId: number): void {
    const state = conns.get(conn.id);
    const cursor = state?.rooms.get(roomId);
    if (!state || !cursor?.held) return;
    const held = cursor.held;
    delete cursor.held;
    delete cursor.heldBytes;
    delete cursor.replayed;
    for (const message of held) deliverTo(state, { kind: 'message', message });
  }

  /** The connection stops following a room (its user left it, or was removed). */
  function unsubscribe(conn: HubConnection, roomId: number): void {
    const state = conns.get(conn.id);
    if (!state?.rooms.delete(roomId)) return;
    const room = rooms.get(roomId);
    const p = room?.presence.get(conn.participant.key);
    if (!room || !p) return;
    p.conns.delete(state);
    // The participant's other connections may still be there; only the last one leaving counts.
    if (p.conns.size === 0) removePresence(room, conn.participant.key, 'left');
  }

  /**
   * A connection ends. `clean` = the client said goodbye. When the participant's last connection
   * drops without one, they stay counted as "disconnected" for the grace period.
   */
  function detach(conn: HubConnection, clean: boolean): void {
    const state = conns.get(conn.id);
    if (!state) return;
    conns.delete(conn.id);
    const key = conn.participant.key;
    const user = users.get(key);
    user?.conns.delete(state);
    const lastConnection = !user || user.conns.size === 0;
    for (const roomId of state.rooms.keys()) {
      const room = rooms.get(roomId);
      const p = room?.presence.get(key);
      if (!room || !p) continue;
      p.conns.delete(state);
      if (p.conns.size > 0) continue;
      if (clean || !lastConnection) removePresence(room, key, 'left');
      else if (graceMs === 0) removePresence(room, key, 'offline');
      else announce(room, p.participant, 'disconnected');
    }
    if (!user || !lastConnection) return;
    if (clean || graceMs === 0) {
      forgetUser(key);
      return;
    }
    if (user.graceTimer !== undefined) timers.clearTimeout(user.graceTimer);
    user.graceTimer = timers.setTimeout(() => graceOver(key), graceMs);
  }

  function graceOver(key: string) {
    const user = users.get(key);
    if (!user) return;
    delete user.graceTimer;
    const online = user.conns.size > 0;
    for (const room of [...rooms.values()]) {
      const p = room.presence.get(key);
      if (p && p.conns.size === 0) removePresence(room, key, online ? 'left' : 'offline');
    }
    if (!online) forgetUser(key);
  }

  /** The participant has no connection left: rooms still counting them (from an earlier drop) let go. */
  function forgetUser(key: string) {
    const user = users.get(key);
    if (user?.graceTimer !== undefined) timers.clearTimeout(user.graceTimer);
    for (const room of [...rooms.values()]) {
      const p = room.presence.get(key);
      if (p && p.conns.size === 0) removePresence(room, key, 'left');
    }
    users.delete(key);
    userSubs.get(key)?.();
    userSubs.delete(key);
  }

  function presenceOf(key: string): PresenceState {
    const user = users.get(key);
    if (!user) return 'offline';
    return user.conns.size > 0 ? 'online' : 'disconnected';
  }

  return {
    attach,
    detach,
    subscribe,
    unsubscribe,
    beginReplay,
    replayMessage,
    endReplay,
    presenceOf,
    publishToRoom: (roomId: number, event: HubEvent) => bus.publish(roomChannel(roomId), event),
    publishToUser: (key: string, event: HubEvent) => bus.publish(userChannel(key), event),
    /** Participants with at least one connection on this instance. */
    onlineParticipants(): Participant[] {
      return [...users.values()].filter((u) => u.conns.size > 0).map((u) => u.participant);
    },
    connectionCount: () => conns.size,
    connectionsOf: (key: string) => users.get(key)?.conns.size ?? 0,
    /** Participants present in a room on this instance (online or within their grace period). */
    presentIn(roomId: number): Participant[] {
      return [...(rooms.get(roomId)?.presence.values() ?? [])].map((p) => p.participant);
    },
    subscribedRooms(conn: HubConnection): number[] {
      return [...(conns.get(conn.id)?.rooms.keys() ?? [])];
    },
    isSubscribed: (conn: HubConnection, roomId: number) => conns.get(conn.id)?.rooms.has(roomId) ?? false,
    close() {
      for (const u of users.values()) if (u.graceTimer !== undefined) timers.clearTimeout(u.graceTimer);
      for (const r of rooms.values()) r.unsubscribeBus();
      for (const off of userSubs.values()) off();
      rooms.clear();
      users.clear();
      userSubs.clear();
      conns.clear();
    },
  };
}
