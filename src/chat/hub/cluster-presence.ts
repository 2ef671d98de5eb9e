import type { Participant, PresenceEvent, PresenceState } from '../model.js';
import type { RoomRef, Timers } from './state.js';

/**
 * Presence across instances (several instances only). Each instance knows its own connections;
 * this keeps, beside them, what every instance has said about its own: per room and per user, each
 * instance's state (online, or disconnected within the grace period). The cluster's state of a
 * user in a room is the best over instances (online > disconnected > absent), and a room's local
 * connections hear a presence event only when that changes — so a user connected to two instances
 * who closes one tab stays "online" for everyone, and counts are the cluster's. Every instance
 * computes the same transitions from the same updates. An instance that stops heartbeating
 * (kill -9) has its users turned disconnected at once and offline after the grace period.
 */

export type LocalState = 'online' | 'disconnected' | 'absent';

export type PresenceUpdate =
  | { kind: 'room'; instance: string; room: RoomRef; user: Participant; state: LocalState; reason: PresenceEvent }
  | { kind: 'user'; instance: string; user: Participant; state: LocalState; conns: number }
  | { kind: 'snapshot'; instance: string; rooms: Array<{ room: RoomRef; user: Participant; state: LocalState }>; users: Array<{ user: Participant; state: LocalState; conns: number }> }
  | { kind: 'sync'; instance: string };

/** What this needs from the outside: sending updates, and delivering events to this instance's connections. */
export interface PresenceWire {
  publish(update: PresenceUpdate): void;
}

interface Entry {
  participant: Participant;
  by: Map<string, Exclude<LocalState, 'absent'>>;
}

const rank = { absent: 0, disconnected: 1, online: 2 } as const;

function stateOf(entry: Entry | undefined): LocalState {
  let best: LocalState = 'absent';
  for (const s of entry?.by.values() ?? []) if (rank[s] > rank[best]) best = s;
  return best;
}

function eventFor(before: LocalState, after: LocalState, reason: PresenceEvent): PresenceEvent | undefined {
  if (before === after) return undefined;
  if (after === 'online') return before === 'disconnected' ? 'rejoined' : 'joined';
  if (after === 'disconnected') return 'disconnected';
  return reason === 'left' || reason === 'offline' ? reason : before === 'disconnected' ? 'offline' : 'left';
}

export interface ClusterPresenceOptions {
  instance: string;
  wire: PresenceWire;
  graceMs: number;
  timers: Timers;
  /** Hands a presence event to this instance's connections in the room (never back to the wire). */
  emit(room: RoomRef, user: Participant, event: PresenceEvent, count: number): void;
}

export type ClusterPresence = ReturnType<typeof createClusterPresence>;

export function createClusterPresence({ instance, wire, graceMs, timers, emit }: ClusterPresenceOptions) {
  const rooms = new Map<number, { ref: RoomRef; users: Map<string, Entry> }>();
  const users = new Map<string, Entry>();
  const goneTimers = new Map<string, unknown>();
  /** Each instance's connection count per user (server-side sends report deliveries summed over instances). */
  const conns = new Map<string, Map<string, number>>();
  const setConns = (key: string, from: string, n: number) => {
    const m = conns.get(key) ?? new Map<string, number>();
    if (n > 0) m.set(from, n);
    else m.delete(from);
    if (m.size > 0) conns.set(key, m);
    else conns.delete(key);
  };

  function setIn(map: Map<string, Entry>, who: Participant, from: string, state: LocalState): [LocalState, LocalState] {
    const entry = map.get(who.key) ?? { participant: who, by: new Map() };
    const before = stateOf(entry);
    if (state === 'absent') entry.by.delete(from);
    else entry.by.set(from, state);
    if (entry.by.size === 0) map.delete(who.key);
    else map.set(who.key, entry);
    return [before, stateOf(entry)];
  }

  function setRoom(ref: RoomRef, who: Participant, from: string, state: LocalState, reason: PresenceEvent) {
    let room = rooms.get(ref.id);
    if (!room) rooms.set(ref.id, (room = { ref, users: new Map() }));
    const [before, after] = setIn(room.users, who, from, state);
    const event = eventFor(before, after, reason);
    const count = room.users.size;
    if (room.users.size === 0) rooms.delete(ref.id);
    if (event) emit(ref, who, event, count);
  }

  /** Everything `from` holds, replaced by `snapshot` (an empty one: the instance is gone). */
  function replace(from: string, snapshot: Extract<PresenceUpdate, { kind: 'snapshot' }> | undefined, reason: PresenceEvent) {
    const keep = new Set(snapshot?.rooms.map((r) => `${r.room.id}|${r.user.key}`));
    for (const room of [...rooms.values()]) {
      for (const e of [...room.users.values()]) {
        if (e.by.has(from) && !keep.has(`${room.ref.id}|${e.participant.key}`)) setRoom(room.ref, e.participant, from, 'absent', reason);
      }
    }
    for (const e of [...users.values()]) if (e.by.has(from)) setIn(users, e.participant, from, 'absent');
    for (const [key, m] of [...conns]) if (m.has(from)) setConns(key, from, 0);
    for (const r of snapshot?.rooms ?? []) setRoom(r.room, r.user, from, r.state, 'joined');
    for (const u of snapshot?.users ?? []) {
      setIn(users, u.user, from, u.state);
      setConns(u.user.key, from, u.conns);
    }
  }

  return {
    /** This instance's own change: recorded, told to the others, heard here if the cluster's state changed. */
    localRoom(ref: RoomRef, who: Participant, state: LocalState, reason: PresenceEvent) {
      if ((rooms.get(ref.id)?.users.get(who.key)?.by.get(instance) ?? 'absent') === state) return;
      setRoom(ref, who, instance, state, reason);
      wire.publish({ kind: 'room', instance, room: ref, user: who, state, reason });
    },
    localUser(who: Participant, state: LocalState, count: number) {
      if ((users.get(who.key)?.by.get(instance) ?? 'absent') === state && (conns.get(who.key)?.get(instance) ?? 0) === count) return;
      setIn(users, who, instance, state);
      setConns(who.key, instance, count);
      wire.publish({ kind: 'user', instance, user: who, state, conns: count });
    },
    /** The user's connections on the other instances. */
    connectionsElsewhere(key: string): number {
      let n = 0;
      for (const [i, c] of conns.get(key) ?? []) if (i !== instance) n += c;
      return n;
    },
    /** An update from another instance. `snapshot` asks for ours (`mine`) when it is a sync request. */
    receive(update: PresenceUpdate, mine: () => Extract<PresenceUpdate, { kind: 'snapshot' }>) {
      if (update.instance === instance) return;
      const t = goneTimers.get(update.instance);
      if (t !== undefined) {
        // It came back within the grace period: what it says now replaces what we kept.
        timers.clearTimeout(t);
        goneTimers.delete(update.instance);
      }
      if (update.kind === 'room') setRoom(update.room, update.user, update.instance, update.state, update.reason);
      else if (update.kind === 'user') {
        setIn(users, update.user, update.instance, update.state);
        setConns(update.user.key, update.instance, update.conns);
      }
      else if (update.kind === 'snapshot') replace(update.instance, update, 'left');
      else wire.publish(mine());
    },
    /** Another instance stopped heartbeating: its users are disconnected now, offline after the grace period. */
    instanceGone(other: string) {
      if (other === instance || goneTimers.has(other)) return;
      for (const room of [...rooms.values()]) {
        for (const e of [...room.users.values()]) if (e.by.has(other)) setRoom(room.ref, e.participant, other, 'disconnected', 'disconnected');
      }
      for (const e of [...users.values()]) if (e.by.has(other)) setIn(users, e.participant, other, 'disconnected');
      for (const [key, m] of [...conns]) if (m.has(other)) setConns(key, other, 0);
      goneTimers.set(
        other,
        timers.setTimeout(() => {
          goneTimers.delete(other);
          replace(other, undefined, 'offline');
        }, graceMs),
      );
    },
    /** Instances other than this one that hold someone. */
    peers(): Set<string> {
      const out = new Set<string>();
      for (const e of users.values()) for (const i of e.by.keys()) if (i !== instance) out.add(i);
      for (const r of rooms.values()) for (const e of r.users.values()) for (const i of e.by.keys()) if (i !== instance) out.add(i);
      return out;
    },
    presenceOf(key: string): PresenceState {
      const s = stateOf(users.get(key));
      return s === 'absent' ? 'offline' : s;
    },
    online(): Participant[] {
      return [...users.values()].filter((e) => stateOf(e) === 'online').map((e) => e.participant);
    },
    presentIn(roomId: number): Participant[] {
      return [...(rooms.get(roomId)?.users.values() ?? [])].map((e) => e.participant);
    },
    close() {
      for (const t of goneTimers.values()) timers.clearTimeout(t);
      goneTimers.clear();
    },
  };
}
