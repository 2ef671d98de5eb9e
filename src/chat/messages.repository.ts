import type { Kysely, Selectable } from 'kysely';
import type { ChatMessagesTable, Tables } from '../db/tables.js';

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

export async function insertMessage(db: Db, row: MessageRow): Promise<void> {
  await db.insertInto('chat_messages').values(row).execute();
}

export function findByClientId(db: Db, senderId: number, clientId: string): Promise<MessageRow | undefined> {
  return db
    .selectFrom('chat_messages')
    .selectAll()
    .where('sender_id', '=', senderId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
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
