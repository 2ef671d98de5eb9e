import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.js';

/** The id naming this database (migration 0012): the instances sharing it share this id. */
export async function clusterId(db: Kysely<Tables>): Promise<string> {
  const row = await db.selectFrom('cluster_identity').select('id').orderBy('created_at').executeTakeFirst();
  if (!row) throw new Error('The database has no cluster identity (migration 0012 did not run)');
  return row.id;
}

/** Whether an instance has marked the uploads directory already (see uploads-marker.ts). */
export async function uploadsMarked(db: Kysely<Tables>, id: string): Promise<boolean> {
  const row = await db.selectFrom('cluster_identity').select('uploads_marked_at').where('id', '=', id).executeTakeFirst();
  return row?.uploads_marked_at != null;
}

export async function markUploads(db: Kysely<Tables>, id: string, now: number): Promise<void> {
  await db.updateTable('cluster_identity').set({ uploads_marked_at: now }).where('id', '=', id).where('uploads_marked_at', 'is', null).execute();
}
