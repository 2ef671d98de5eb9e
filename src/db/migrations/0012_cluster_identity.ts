import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

/**
 * One row naming this database: the instances sharing it find one another in Redis under this id
 * (so two teams, or two test runs, on one Redis never hear each other), and the uploads directory
 * carries the same id in a marker (a start on another database's files is refused). Not part of a
 * backup: a restore keeps the identity of the database it restores into.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('cluster_identity')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // When an instance first marked the uploads directory: from then on an unmarked one is the wrong one.
    .addColumn('uploads_marked_at', 'bigint')
    .execute();
  await db.insertInto('cluster_identity').values({ id: randomBytes(12).toString('base64url'), created_at: Date.now() }).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('cluster_identity').execute();
}
