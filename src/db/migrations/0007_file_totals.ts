import { type Kysely, sql } from 'kysely';

/**
 * What listing and quota checks used to count row by row: each owner's number of files and bytes
 * per category, kept by files.repository.ts in the same transaction as every insert and delete
 * (a file list's total and a user's usage were O(their files); an upload read them twice). And
 * indexes for each order the file list offers, so a first page costs a page whatever the total.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('file_totals')
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('file_count', 'bigint', (c) => c.notNull())
    .addColumn('byte_count', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_totals_pk', ['owner_id', 'category'])
    .execute();
  await sql`insert into file_totals (owner_id, category, file_count, byte_count)
            select owner_id, category, count(*), coalesce(sum(size), 0) from files group by owner_id, category`.execute(db);
  await db.schema.createIndex('files_owner_name').on('files').columns(['owner_id', 'original_name']).execute();
  await db.schema.createIndex('files_owner_size').on('files').columns(['owner_id', 'size']).execute();
  await db.schema.createIndex('files_owner_category_created').on('files').columns(['owner_id', 'category', 'created_at']).execute();
  // An admin's list is everyone's files, newest first.
  await db.schema.createIndex('files_created').on('files').column('created_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const index of ['files_created', 'files_owner_category_created', 'files_owner_size', 'files_owner_name']) {
    await db.schema.dropIndex(index).execute();
  }
  await db.schema.dropTable('file_totals').execute();
}
