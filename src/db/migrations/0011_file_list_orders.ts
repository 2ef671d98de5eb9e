import type { Kysely } from 'kysely';

/**
 * An admin's list is everyone's files: 0007 gave it `created_at` only, so sorting it by name or size,
 * or listing one category, read every row before the first page. One index per order, each ending
 * with `id` (the tie-break and the keyset cursor's second half); the name index replaces 0002's
 * `original_name` one (lookups by name use it just as well).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('files_original_name').execute();
  await db.schema.createIndex('files_name_id').on('files').columns(['original_name', 'id']).execute();
  await db.schema.createIndex('files_size_id').on('files').columns(['size', 'id']).execute();
  await db.schema.createIndex('files_category_created').on('files').columns(['category', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['files_category_created', 'files_size_id', 'files_name_id']) await db.schema.dropIndex(index).execute();
  await db.schema.createIndex('files_original_name').on('files').column('original_name').execute();
}
