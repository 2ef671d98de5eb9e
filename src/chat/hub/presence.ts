import { roomChannel } from '../bus.js';
import type { Participant, PresenceEvent, PresenceState } from '../model.js';
import { onRoomEvent } from './fanout.js';
import { stopSequence } from './sequencer.js';
import type { HubState, LocalRoom, RoomRef } from './state.js';

/**
 * Who is present in which room on this instance, what everyone there hears about it, and the
 * grace period after a participant's last connection dropped without a goodbye.
 */

export function announce(hub: HubState, room: LocalRoom, participant: Participant, event: PresenceEvent) {
  if (hub.cluster) {
    // The cluster decides what everyone hears (its state may not change: online elsewhere).
    const p = room.presence.get(participant.key);
    hub.cluster.localRoom(room.ref, participant, !p ? 'absent' : p.conns.size > 0 ? 'online' : 'disconnected', event);
    return;
  }
  void hub.bus
    .publish(roomChannel(room.ref.id), {
      kind: 'presence',
      room: room.ref.id,
      roomName: room.ref.name,
      event,
      user: { id: participant.userId, name: participant.name },
      count: room.presence.size,
    })
    .catch(() => {});
}

/** The room as followed on this instance, subscribed to its bus channel while anyone is present. */
export function localRoom(hub: HubState, ref: RoomRef): LocalRoom {
  let room = hub.rooms.get(ref.id);
  if (!room) {
    const unsubscribeBus = hub.bus.subscribe(roomChannel(ref.id), (e) => onRoomEvent(hub, ref.id, e));
    room = { ref, presence: new Map(), unsubscribeBus, sequence: { early: new Map() } };
    hub.rooms.set(ref.id, room);
  }
  return room;
}

function dropRoomIfEmpty(hub: HubState, room: LocalRoom) {
  if (room.presence.size === 0) {
    room.unsubscribeBus();
    stopSequence(hub, room);
    hub.rooms.delete(room.ref.id);
  }
}

/** A participant leaves a room's presence; `event` says how (left, offline). */
export function removePresence(hub: HubState, room: LocalRoom, key: string, event: PresenceEvent) {
  const p = room.presence.get(key);
  if (!p) return;
  room.presence.delete(key);
  announce(hub, room, p.participant, event);
  dropRoomIfEmpty(hub, room);
}

export function graceOver(hub: HubState, key: string) {
  const user = hub.users.get(key);
  if (!user) return;
  delete user.graceTimer;
  const online = user.conns.size > 0;
  for (const room of [...hub.rooms.values()]) {
    const p = room.presence.get(key);
    if (p && p.conns.size === 0) removePresence(hub, room, key, online ? 'left' : 'offline');
  }
  if (!online) forgetUser(hub, key);
  else userChanged(hub, user.participant);
}

/** The participant has no connection left: rooms still counting them (from an earlier drop) let go. */
export function forgetUser(hub: HubState, key: string) {
  const user = hub.users.get(key);
  if (user?.graceTimer !== undefined) hub.timers.clearTimeout(user.graceTimer);
  for (const room of [...hub.rooms.values()]) {
    const p = room.presence.get(key);
    if (p && p.conns.size === 0) removePresence(hub, room, key, 'left');
  }
  hub.users.delete(key);
  hub.userSubs.get(key)?.();
  hub.userSubs.delete(key);
  if (user) userChanged(hub, user.participant);
}

/** Tells the cluster (several instances) where this user stands on this instance now. */
export function userChanged(hub: HubState, participant: Participant) {
  if (!hub.cluster) return;
  const user = hub.users.get(participant.key);
  hub.cluster.localUser(participant, !user ? 'absent' : user.conns.size > 0 ? 'online' : 'disconnected', user?.conns.size ?? 0);
}

export function presenceOf(hub: HubState, key: string): PresenceState {
  if (hub.cluster) return hub.cluster.presenceOf(key);
  const user = hub.users.get(key);
  if (!user) return 'offline';
  return user.conns.size > 0 ? 'online' : 'disconnected';
}
