import { type Kysely, sql } from 'kysely';

/**
 * Each member's read cursor: the highest sequence number they have read in the room, moved by
 * `POST /api/chat/rooms/:room/read` and the `read` frame. A room's unread count is then
 * `last_seq - last_read_seq`, one subtraction per room, whatever the history's length.
 * Existing members start with everything read (an upgrade does not light up every old room).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('chat_members')
    .addColumn('last_read_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`update chat_members set last_read_seq = (select r.last_seq from chat_rooms r where r.id = chat_members.room_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('chat_members').dropColumn('last_read_seq').execute();
}
