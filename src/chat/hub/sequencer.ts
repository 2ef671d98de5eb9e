import type { ChatMessage, HubEvent } from '../model.js';
import type { HubState, LocalRoom } from './state.js';

/**
 * Several instances (a Redis bus): a room's messages come from whichever instance stored them, so
 * seq 11 committed here can arrive before seq 10 from another instance, and a Redis restart can
 * lose some for good. Per room, messages go out in sequence order: one that arrives early waits
 * (at most `waitMs`) for those before it; when they do not come, the missing ones are read from
 * history (`fill`) and delivered in their place; numbers history does not have either (a crash
 * recovery's skipped sequences) are passed over. Off for a single instance, where one ordered
 * fan-out makes every gap a real skip.
 */
export interface Sequencing {
  waitMs: number;
  /** Stored messages with `after < seq < before`, oldest first. */
  fill(roomId: number, after: number, before: number): Promise<ChatMessage[]>;
}

/** A room's place in its sequence on this instance. */
export interface RoomSequence {
  next?: number;
  early: Map<number, ChatMessage>;
  timer?: unknown;
  filling?: boolean;
}

/** Early messages kept per room before the wait is cut short. */
const MAX_EARLY = 1000;

export function sequenced(hub: HubState, room: LocalRoom, message: ChatMessage, deliverAll: (e: HubEvent) => number): number {
  const s = room.sequence;
  if (s.next === undefined || (message.seq === s.next && s.early.size === 0)) {
    s.next = message.seq + 1;
    return deliverAll({ kind: 'message', message });
  }
  // Older than the next expected: late (filled already, or a duplicate); each connection's cursor drops repeats.
  if (message.seq < s.next) return deliverAll({ kind: 'message', message });
  s.early.set(message.seq, message);
  const n = drain(room, deliverAll);
  if (s.early.size > MAX_EARLY) skipToEarliest(room, deliverAll);
  if (s.early.size > 0 && s.timer === undefined && !s.filling) {
    s.timer = hub.timers.setTimeout(() => void fillGap(hub, room, deliverAll), hub.sequencing?.waitMs ?? 0);
  }
  return n;
}

/** Delivers the early messages that now follow on. */
function drain(room: LocalRoom, deliverAll: (e: HubEvent) => number): number {
  const s = room.sequence;
  let n = 0;
  for (let m = s.next === undefined ? undefined : s.early.get(s.next); m; m = s.early.get(s.next ?? -1)) {
    s.early.delete(m.seq);
    s.next = m.seq + 1;
    n += deliverAll({ kind: 'message', message: m });
  }
  return n;
}

function skipToEarliest(room: LocalRoom, deliverAll: (e: HubEvent) => number) {
  const s = room.sequence;
  if (s.early.size === 0) return;
  s.next = Math.min(...s.early.keys());
  drain(room, deliverAll);
}

async function fillGap(hub: HubState, room: LocalRoom, deliverAll: (e: HubEvent) => number): Promise<void> {
  const s = room.sequence;
  delete s.timer;
  if (s.early.size === 0 || s.next === undefined || !hub.sequencing) return;
  const after = s.next - 1;
  const before = Math.min(...s.early.keys());
  s.filling = true;
  try {
    const found = await hub.sequencing.fill(room.ref.id, after, before);
    for (const m of found) if (m.seq >= (s.next ?? 0) && m.seq < before) s.early.set(m.seq, m);
  } catch {
    // History unreadable (the database is away): pass over the gap rather than hold the room.
  } finally {
    s.filling = false;
  }
  if (hub.rooms.get(room.ref.id) !== room) return;
  drain(room, deliverAll);
  // What history did not have never existed (skipped sequences): go on from the next one present.
  if (s.early.size > 0 && !s.early.has(s.next ?? -1)) skipToEarliest(room, deliverAll);
  if (s.early.size > 0 && s.timer === undefined) {
    s.timer = hub.timers.setTimeout(() => void fillGap(hub, room, deliverAll), hub.sequencing.waitMs);
  }
}

export function stopSequence(hub: HubState, room: LocalRoom) {
  if (room.sequence.timer !== undefined) hub.timers.clearTimeout(room.sequence.timer);
  delete room.sequence.timer;
  room.sequence.early.clear();
}
