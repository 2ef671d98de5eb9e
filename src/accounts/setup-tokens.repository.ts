import type { Kysely } from 'kysely';
import type { Tables } from '../db/tables.js';

type Db = Kysely<Tables>;

export async function replaceSetupToken(db: Db, tokenHash: string, now: number, expiresAt: number): Promise<void> {
  await db.deleteFrom('setup_tokens').where('used_at', 'is', null).execute();
  await db
    .insertInto('setup_tokens')
    .values({ token_hash: tokenHash, created_at: now, expires_at: expiresAt, used_at: null })
    .execute();
}

/** Marks the token used; true only for the one caller that used a live, unused token. */
export async function consumeSetupToken(db: Db, tokenHash: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('setup_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function isLiveSetupToken(db: Db, tokenHash: string, now: number): Promise<boolean> {
  const r = await db
    .selectFrom('setup_tokens')
    .select('token_hash')
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return r !== undefined;
}
