import type { Kysely } from 'kysely';

/**
 * Refresh tokens an API session has already replaced (SHA-256, like every token), so that one
 * coming back is recognised as a copy and its session revoked. Removed with their session.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('rotated_refresh_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('rotated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('rotated_refresh_tokens_session')
    .on('rotated_refresh_tokens')
    .column('session_id')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('rotated_refresh_tokens').execute();
}
