import { type ChatBus, roomChannel, userChannel } from './bus.js';
import { attach, detach, subscribe, unsubscribe } from './hub/subscriptions.js';
import { presenceOf } from './hub/presence.js';
import { beginReplay, endReplay, replayMessage } from './hub/replay.js';
import type { Sequencing } from './hub/sequencer.js';
import { stopSequence } from './hub/sequencer.js';
import type { HubConnection, HubState, RoomRef, Timers } from './hub/state.js';
import type { ChatMessage, HubEvent, Participant } from './model.js';

/**
 * The pure core of real-time chat: which connections are subscribed to which rooms, who is
 * present where, and fan-out. No sockets and no database: transports hand it connections that can
 * `deliver` events, and the chat service tells it about rooms. Every room event travels through
 * the bus, so other instances' connections see it too. Its parts work on one state object:
 * hub/subscriptions.ts, hub/presence.ts, hub/fanout.ts and hub/replay.ts.
 */

export type { HubConnection, Timers } from './hub/state.js';

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
  /** Several instances: put each room's messages back in sequence order, filling gaps from history. */
  sequencing?: Sequencing;
}

/** Default bound on live messages held for one connection during a replay. */
export const DEFAULT_MAX_HELD_BYTES = 4 * 1024 * 1024;

export type Hub = ReturnType<typeof createHub>;

export function createHub({ bus, graceMs, timers = systemTimers, maxHeldBytes = DEFAULT_MAX_HELD_BYTES, sequencing }: HubOptions) {
  const hub: HubState = {
    bus,
    graceMs,
    timers,
    maxHeldBytes,
    ...(sequencing ? { sequencing } : {}),
    conns: new Map(),
    users: new Map(),
    rooms: new Map(),
    userSubs: new Map(),
  };
  const { conns, users, rooms, userSubs } = hub;

  return {
    attach: (conn: HubConnection): void => attach(hub, conn),
    detach: (conn: HubConnection, clean: boolean): void => detach(hub, conn, clean),
    /** Subscribes a connection to a room's live events; the participant becomes present there. */
    subscribe: (conn: HubConnection, ref: RoomRef): void => subscribe(hub, conn, ref),
    unsubscribe: (conn: HubConnection, roomId: number): void => unsubscribe(hub, conn, roomId),
    /**
     * Starts replaying a subscribed room from `after`: live messages are held until `endReplay`, so
     * replayed and live messages arrive in order, each exactly once.
     */
    beginReplay: (conn: HubConnection, roomId: number, after: number): boolean => beginReplay(hub, conn, roomId, after),
    replayMessage: (conn: HubConnection, message: ChatMessage): void => replayMessage(hub, conn, message),
    endReplay: (conn: HubConnection, roomId: number): void => endReplay(hub, conn, roomId),
    presenceOf: (key: string) => presenceOf(hub, key),
    publishToRoom: (roomId: number, event: HubEvent) => bus.publish(roomChannel(roomId), event),
    publishToUser: (key: string, event: HubEvent) => bus.publish(userChannel(key), event),
    /** Participants with at least one connection on this instance. */
    onlineParticipants(): Participant[] {
      return [...users.values()].filter((u) => u.conns.size > 0).map((u) => u.participant);
    },
    connectionCount: () => conns.size,
    /** What the hub holds, for the bounds tests and metrics: each falls back to 0 once everyone has gone. */
    sizes() {
      let presence = 0;
      for (const r of rooms.values()) presence += r.presence.size;
      let cursors = 0;
      for (const c of conns.values()) cursors += c.rooms.size;
      return { connections: conns.size, users: users.size, rooms: rooms.size, userChannels: userSubs.size, presence, cursors };
    },
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
      for (const r of rooms.values()) {
        r.unsubscribeBus();
        stopSequence(hub, r);
      }
      for (const off of userSubs.values()) off();
      rooms.clear();
      users.clear();
      userSubs.clear();
      conns.clear();
    },
  };
}
