import type { Kysely, Selectable } from 'kysely';
import type { AccessKeysTable, Tables } from '../db/tables.js';

export type AccessKeyRow = Selectable<AccessKeysTable>;
type Db = Kysely<Tables>;

export function findValidKeyForUser(db: Db, userId: number, now: number): Promise<AccessKeyRow | undefined> {
  return db
    .selectFrom('access_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export function findValidKeyByHash(db: Db, keyHash: string, now: number): Promise<AccessKeyRow | undefined> {
  return db
    .selectFrom('access_keys')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function insertAccessKey(db: Db, row: AccessKeyRow): Promise<void> {
  await db.insertInto('access_keys').values(row).execute();
}

export async function deleteUserKeys(db: Db, userId: number, expiredBefore?: number): Promise<void> {
  let q = db.deleteFrom('access_keys').where('user_id', '=', userId);
  if (expiredBefore !== undefined) q = q.where('expires_at', '<=', expiredBefore);
  await q.execute();
}
