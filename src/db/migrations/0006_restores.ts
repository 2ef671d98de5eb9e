import type { Kysely } from 'kysely';

/**
 * `restores`: one row per restore, written in the same transaction as the restored rows. After a
 * crash mid-restore it tells whether that transaction committed, and so whether the staged files
 * go in (roll forward) or away (the old state stays). Never exported into archives.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('restores')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('archive', 'text', (c) => c.notNull())
    .addColumn('restored_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('restores').execute();
}
