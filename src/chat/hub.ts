import { type ChatBus, roomChannel, userChannel } from './bus.js';
import { attach, detach, subscribe, unsubscribe } from './hub/subscriptions.js';
import { createClusterPresence, type PresenceUpdate, type PresenceWire } from './hub/cluster-presence.js';
import { onRoomEvent } from './hub/fanout.js';
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
  /** Several instances: presence is the cluster's, told to and heard from the others over `wire`. */
  cluster?: { instance: string; wire: PresenceWire };
}

/** Default bound on live messages held for one connection during a replay. */
export const DEFAULT_MAX_HELD_BYTES = 4 * 1024 * 1024;

export type Hub = ReturnType<typeof createHub>;

export function createHub({ bus, graceMs, timers = systemTimers, maxHeldBytes = DEFAULT_MAX_HELD_BYTES, sequencing, cluster }: HubOptions) {
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
  if (cluster) {
    hub.cluster = createClusterPresence({
      ...cluster,
      graceMs,
      timers,
      emit: (room, user, event, count) =>
        onRoomEvent(hub, room.id, { kind: 'presence', room: room.id, roomName: room.name, event, user: { id: user.userId, name: user.name }, count }),
    });
  }
  /** Where everyone stands on this instance: what a sync request is answered with. */
  const snapshot = (): Extract<PresenceUpdate, { kind: 'snapshot' }> => ({
    kind: 'snapshot',
    instance: cluster?.instance ?? '',
    rooms: [...rooms.values()].flatMap((r) =>
      [...r.presence.values()].map((p) => ({ room: r.ref, user: p.participant, state: p.conns.size > 0 ? ('online' as const) : ('disconnected' as const) })),
    ),
    users: [...users.values()].map((u) => ({
      user: u.participant,
      state: u.conns.size > 0 ? ('online' as const) : ('disconnected' as const),
      conns: u.conns.size,
    })),
  });

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
    /** Resolves with the connections reached: here, plus (several instances) the user's connections on the others. */
    publishToUser: async (key: string, event: HubEvent) => (await bus.publish(userChannel(key), event)) + (hub.cluster?.connectionsElsewhere(key) ?? 0),
    /** Participants with at least one connection (on any instance, with several). */
    onlineParticipants(): Participant[] {
      if (hub.cluster) return hub.cluster.online();
      return [...users.values()].filter((u) => u.conns.size > 0).map((u) => u.participant);
    },
    /** Several instances: an update from another instance, another instance gone, who else holds anyone. */
    cluster: hub.cluster && {
      receive: (update: PresenceUpdate) => hub.cluster?.receive(update, snapshot),
      instanceGone: (instance: string) => hub.cluster?.instanceGone(instance),
      peers: () => hub.cluster?.peers() ?? new Set<string>(),
      /** Announces where everyone stands here and asks the others for theirs (at start, and when Redis returns). */
      resync: () => {
        cluster?.wire.publish(snapshot());
        cluster?.wire.publish({ kind: 'sync', instance: cluster.instance });
      },
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
    /** Participants present in a room (online or within their grace period; on any instance, with several). */
    presentIn(roomId: number): Participant[] {
      if (hub.cluster) return hub.cluster.presentIn(roomId);
      return [...(rooms.get(roomId)?.presence.values() ?? [])].map((p) => p.participant);
    },
    subscribedRooms(conn: HubConnection): number[] {
      return [...(conns.get(conn.id)?.rooms.keys() ?? [])];
    },
    isSubscribed: (conn: HubConnection, roomId: number) => conns.get(conn.id)?.rooms.has(roomId) ?? false,
    close() {
      hub.cluster?.close();
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
