import type { ChatMessage } from '../model.js';
import { deliverTo } from './fanout.js';
import type { HubConnection, HubState } from './state.js';

/**
 * Replay cursors: while a connection replays a room, live messages for it are held, so replayed
 * and live messages arrive in order, each exactly once.
 */

/** Starts replaying a subscribed room from `after`: live messages are held until `endReplay`. */
export function beginReplay(hub: HubState, conn: HubConnection, roomId: number, after: number): boolean {
  const state = hub.conns.get(conn.id);
  const cursor = state?.rooms.get(roomId);
  if (!state || state.overflowed || !cursor || cursor.held) return false;
  cursor.held = [];
  cursor.heldBytes = 0;
  cursor.replayed = after;
  return true;
}

export function replayMessage(hub: HubState, conn: HubConnection, message: ChatMessage): void {
  const state = hub.conns.get(conn.id);
  const cursor = state?.rooms.get(message.room);
  if (!state || !cursor?.held || message.seq <= (cursor.replayed ?? 0)) return;
  // Messages from the first live one on were already delivered live.
  if (cursor.firstLive !== undefined && message.seq >= cursor.firstLive) return;
  cursor.replayed = message.seq;
  if (message.seq > cursor.seq) cursor.seq = message.seq;
  state.conn.deliver({ kind: 'message', message });
}

/** Replay is over: held live messages newer than the replay go out, in order. */
export function endReplay(hub: HubState, conn: HubConnection, roomId: number): void {
  const state = hub.conns.get(conn.id);
  const cursor = state?.rooms.get(roomId);
  if (!state || !cursor?.held) return;
  const held = cursor.held;
  delete cursor.held;
  delete cursor.heldBytes;
  delete cursor.replayed;
  for (const message of held) deliverTo(hub, state, { kind: 'message', message });
}
