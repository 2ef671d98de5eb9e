import { userChannel } from '../bus.js';
import type { HubEvent } from '../model.js';
import { deliverTo } from './fanout.js';
import { announce, forgetUser, graceOver, localRoom, removePresence, userChanged } from './presence.js';
import type { ConnState, HubConnection, HubState, RoomRef } from './state.js';

/** Connections coming and going, and the rooms each one follows. */

export function attach(hub: HubState, conn: HubConnection): void {
  const key = conn.participant.key;
  const state: ConnState = { conn, rooms: new Map() };
  hub.conns.set(conn.id, state);
  let user = hub.users.get(key);
  if (!user) {
    user = { participant: conn.participant, conns: new Set() };
    hub.users.set(key, user);
    hub.userSubs.set(
      key,
      hub.bus.subscribe(userChannel(key), (e) => onUserEvent(hub, key, e)),
    );
  }
  // Back within a grace period: each room the participant returns to hears "rejoined"
  // (subscribe), and the running timer settles any room it does not return to.
  user.conns.add(state);
  userChanged(hub, conn.participant);
}

/** A participant's bus handler: membership changes (un)subscribe their connections, then everything is delivered. */
function onUserEvent(hub: HubState, key: string, event: HubEvent): number {
  const user = hub.users.get(key);
  if (!user) return 0;
  if (event.kind === 'membership') {
    for (const s of [...user.conns]) {
      if (event.event === 'added') subscribe(hub, s.conn, event.room);
      else unsubscribe(hub, s.conn, event.room.id);
    }
  }
  let n = 0;
  for (const s of user.conns) n += deliverTo(hub, s, event);
  return n;
}

/**
 * Subscribes a connection to a room's live events; the participant becomes present there.
 */
export function subscribe(hub: HubState, conn: HubConnection, ref: RoomRef): void {
  const state = hub.conns.get(conn.id);
  if (!state) return;
  if (state.rooms.has(ref.id)) return;
  state.rooms.set(ref.id, { seq: 0 });
  const room = localRoom(hub, ref);
  const key = conn.participant.key;
  const present = room.presence.get(key);
  if (present) {
    const wasDisconnected = present.conns.size === 0;
    present.conns.add(state);
    if (wasDisconnected) announce(hub, room, present.participant, 'rejoined');
    return;
  }
  room.presence.set(key, { participant: conn.participant, conns: new Set([state]) });
  announce(hub, room, conn.participant, 'joined');
}

/** The connection stops following a room (its user left it, or was removed). */
export function unsubscribe(hub: HubState, conn: HubConnection, roomId: number): void {
  const state = hub.conns.get(conn.id);
  if (!state?.rooms.delete(roomId)) return;
  const room = hub.rooms.get(roomId);
  const p = room?.presence.get(conn.participant.key);
  if (!room || !p) return;
  p.conns.delete(state);
  // The participant's other connections may still be there; only the last one leaving counts.
  if (p.conns.size === 0) removePresence(hub, room, conn.participant.key, 'left');
}

/**
 * A connection ends. `clean` = the client said goodbye. When the participant's last connection
 * drops without one, they stay counted as "disconnected" for the grace period.
 */
export function detach(hub: HubState, conn: HubConnection, clean: boolean): void {
  const state = hub.conns.get(conn.id);
  if (!state) return;
  hub.conns.delete(conn.id);
  const key = conn.participant.key;
  const user = hub.users.get(key);
  user?.conns.delete(state);
  const lastConnection = !user || user.conns.size === 0;
  for (const roomId of state.rooms.keys()) {
    const room = hub.rooms.get(roomId);
    const p = room?.presence.get(key);
    if (!room || !p) continue;
    p.conns.delete(state);
    if (p.conns.size > 0) continue;
    if (clean || !lastConnection) removePresence(hub, room, key, 'left');
    else if (hub.graceMs === 0) removePresence(hub, room, key, 'offline');
    else announce(hub, room, p.participant, 'disconnected');
  }
  if (!user || !lastConnection) {
    if (user) userChanged(hub, conn.participant);
    return;
  }
  if (clean || hub.graceMs === 0) {
    forgetUser(hub, key);
    return;
  }
  if (user.graceTimer !== undefined) hub.timers.clearTimeout(user.graceTimer);
  user.graceTimer = hub.timers.setTimeout(() => graceOver(hub, key), hub.graceMs);
  userChanged(hub, conn.participant);
}
