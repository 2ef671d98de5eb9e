import { signal } from '@preact/signals';
import type { ChatMessage } from './types.js';

/**
 * What the page holds of each room: a window of at most MAX_LINES lines, however long the room.
 * Loading older pages drops the newest lines past the limit (`hasNewer`: fetched again on the way
 * down); lines arriving at the bottom drop the oldest (`hasMore`: fetched again on the way up). So
 * the DOM stays bounded while scroll-back reaches the first message.
 */

export type Line =
  | { kind: 'message'; message: ChatMessage }
  | { kind: 'system'; key: string; text: string; at: number };

/** 140 lines of at most six elements each (chat-parts.tsx): under 1,000 nodes in the list, however long the room. */
export const MAX_LINES = 140;
export const PAGE = 50;

export const timelines = signal<Record<number, Line[]>>({});
/** Older messages exist before the window's first. */
export const hasMore = signal<Record<number, boolean>>({});
/** Newer messages exist after the window's last (they were dropped while reading far back). */
export const hasNewer = signal<Record<number, boolean>>({});
/** The highest seq this page has received per room: the `?resume=` cursor. */
export const latestSeq = signal<Record<number, number>>({});

export function noteSeq(room: number, seq: number) {
  if (seq > (latestSeq.value[room] ?? 0)) latestSeq.value = { ...latestSeq.value, [room]: seq };
}

export function lineKey(l: Line): string {
  return l.kind === 'message' ? l.message.id : l.key;
}

export function newestSeqIn(room: number): number {
  return (timelines.value[room] ?? []).reduce((n, l) => (l.kind === 'message' ? Math.max(n, l.message.seq) : n), 0);
}

export function addLines(room: number, lines: Line[], atStart = false) {
  const old = timelines.value[room] ?? [];
  const seen = new Set(old.map(lineKey));
  const fresh = lines.filter((l) => !seen.has(lineKey(l)));
  if (fresh.length === 0) return;
  let merged = atStart ? [...fresh, ...old] : [...old, ...fresh];
  if (merged.length > MAX_LINES) {
    if (atStart) {
      merged = merged.slice(0, MAX_LINES);
      hasNewer.value = { ...hasNewer.value, [room]: true };
    } else {
      merged = merged.slice(merged.length - MAX_LINES);
      hasMore.value = { ...hasMore.value, [room]: true };
    }
  }
  timelines.value = { ...timelines.value, [room]: merged };
}

/** `room:seq` pairs for `?resume=`: every room this page has received something in. */
export function cursors(): string {
  return Object.entries(latestSeq.value)
    .filter(([, seq]) => seq > 0)
    .slice(0, 500)
    .map(([room, seq]) => `${room}:${seq}`)
    .join(',');
}
