import type { Kysely, Selectable } from 'kysely';
import type { ShareLinksTable, Tables } from '../db/tables.js';

export type ShareRow = Selectable<ShareLinksTable>;
type Db = Kysely<Tables>;

export async function insertShare(db: Db, row: ShareRow): Promise<void> {
  await db.insertInto('share_links').values(row).execute();
}

export function listSharesOfFile(db: Db, fileId: string): Promise<ShareRow[]> {
  return db.selectFrom('share_links').selectAll().where('file_id', '=', fileId).orderBy('created_at', 'desc').execute();
}

export function findShareById(db: Db, id: string): Promise<ShareRow | undefined> {
  return db.selectFrom('share_links').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function revokeShare(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('share_links').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

/** The live link for a token hash, without counting a download. */
export function findLiveShare(db: Db, tokenHash: string, now: number): Promise<ShareRow | undefined> {
  return db
    .selectFrom('share_links')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Counts one download if the link is live and under its limit; false when it is not. */
export async function countShareDownload(db: Db, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('share_links')
    .set((eb) => ({ downloads: eb('downloads', '+', 1) }))
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where((eb) => eb.or([eb('max_downloads', 'is', null), eb('downloads', '<', eb.ref('max_downloads'))]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
