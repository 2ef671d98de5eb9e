import type { Kysely } from 'kysely';

/**
 * What a replaced refresh token was replaced by, and from which address, so that the same client
 * presenting it again moments later (a retry after a lost response) is refused without ending the
 * session. Rows from before this migration have neither: their reuse revokes, as it did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite adds one at a time.
  await db.schema.alterTable('rotated_refresh_tokens').addColumn('replaced_by_hash', 'text').execute();
  await db.schema.alterTable('rotated_refresh_tokens').addColumn('rotated_ip', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('rotated_refresh_tokens').dropColumn('rotated_ip').execute();
  await db.schema.alterTable('rotated_refresh_tokens').dropColumn('replaced_by_hash').execute();
}
