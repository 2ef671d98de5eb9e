import type { Kysely, Selectable } from 'kysely';
import type { ChatMessagesTable, Tables } from '../db/tables.js';
import { raiseReadCursor } from './rooms.repository.js';

export type MessageRow = Selectable<ChatMessagesTable>;
type Db = Kysely<Tables>;

/** Hands out the next `count` sequence numbers of a room; returns the last one. Call inside the insert's transaction. */
export async function advanceSeq(db: Db, roomId: number, count: number): Promise<number> {
  const r = await db
    .updateTable('chat_rooms')
    .set((eb) => ({ last_seq: eb('last_seq', '+', count) }))
    .where('id', '=', roomId)
    .returning('last_seq')
    .executeTakeFirstOrThrow();
  return Number(r.last_seq);
}

/** Moves every room's sequence `gap` numbers ahead (after commits that may have been lost). */
export async function skipSequences(db: Db, gap: number): Promise<void> {
  await db
    .updateTable('chat_rooms')
    .set((eb) => ({ last_seq: eb('last_seq', '+', gap) }))
    .execute();
}

export async function insertMessages(db: Db, rows: MessageRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('chat_messages').values(rows).execute();
}

/**
 * A sender has read their own messages: their read cursor moves up to the last one they wrote
 * (never back). Call inside the insert's transaction; one indexed update per room and sender.
 */
export async function advanceSendersRead(db: Db, rows: MessageRow[]): Promise<void> {
  const last = new Map<string, { room: number; user: number; seq: number }>();
  for (const r of rows) {
    if (r.sender_id === null) continue;
    const key = `${r.room_id}:${r.sender_id}`;
    const seen = last.get(key);
    if (!seen || Number(r.seq) > seen.seq) last.set(key, { room: r.room_id, user: r.sender_id, seq: Number(r.seq) });
  }
  for (const { room, user, seq } of last.values()) await raiseReadCursor(db, room, user, seq);
}

/** Stored messages with any of these client ids (each sender's ids are their own). */
export function findByClientIds(db: Db, senderId: number, clientIds: string[]): Promise<MessageRow[]> {
  return db
    .selectFrom('chat_messages')
    .selectAll()
    .where('sender_id', '=', senderId)
    .where('client_id', 'in', clientIds)
    .execute();
}

/** Up to `limit` messages older than `beforeSeq`, newest first. */
export function listBefore(db: Db, roomId: number, beforeSeq: number, limit: number): Promise<MessageRow[]> {
  return db
    .selectFrom('chat_messages')
    .selectAll()
    .where('room_id', '=', roomId)
    .where('seq', '<', beforeSeq)
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
}

/** Up to `limit` messages newer than `afterSeq`, oldest first (replay). */
export function listAfter(db: Db, roomId: number, afterSeq: number, limit: number): Promise<MessageRow[]> {
  return db
    .selectFrom('chat_messages')
    .selectAll()
    .where('room_id', '=', roomId)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
}
