import type { Kysely } from 'kysely';

/**
 * `console_queries`: each admin's saved database-console queries (name, SQL, chart settings as
 * JSON), gone with the admin's account. Travels in backup archives like the rest of a user's data.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('console_queries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('sql', 'text', (c) => c.notNull())
    .addColumn('chart', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_queries_user_name').on('console_queries').columns(['user_id', 'name']).unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('console_queries').execute();
}
