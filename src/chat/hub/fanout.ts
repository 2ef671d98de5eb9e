import type { HubEvent } from '../model.js';
import { sequenced } from './sequencer.js';
import type { ConnState, HubState } from './state.js';

/** What a held message is taken to weigh beyond its body (ids, names, framing). */
const HELD_OVERHEAD_BYTES = 256;

/**
 * Hands one event to one connection: a message goes out once per connection (never again after
 * its cursor passed it), or is held while the connection replays that room.
 */
export function deliverTo(hub: HubState, state: ConnState, event: HubEvent): number {
  if (state.overflowed) return 0;
  if (event.kind === 'relay') {
    // Only to connections that follow the room and are not replaying it (a relay has no place in a replay).
    const cursor = state.rooms.get(event.room);
    if (!cursor || cursor.held) return 0;
  }
  if (event.kind === 'message') {
    const cursor = state.rooms.get(event.message.room);
    if (!cursor) return 0;
    if (cursor.held) {
      const weight = Buffer.byteLength(event.message.body) + HELD_OVERHEAD_BYTES;
      // All its rooms together: a client may replay many rooms at once.
      let total = weight;
      for (const c of state.rooms.values()) total += c.heldBytes ?? 0;
      if (total > hub.maxHeldBytes) {
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

/** A room's bus handler: the event reaches every local connection present there. */
export function onRoomEvent(hub: HubState, roomId: number, event: HubEvent): number {
  const room = hub.rooms.get(roomId);
  if (!room) return 0;
  const deliverAll = (e: HubEvent) => {
    let n = 0;
    for (const p of room.presence.values()) for (const c of p.conns) n += deliverTo(hub, c, e);
    return n;
  };
  if (hub.sequencing && event.kind === 'message') return sequenced(hub, room, event.message, deliverAll);
  return deliverAll(event);
}
