import { type Kysely, sql } from 'kysely';
import type { Tables } from '../../db/tables.js';

/**
 * All of backup and restore's SQL. Tables are named from backup-format.ts's fixed list only,
 * never from an archive's text, so the dynamic table names below are always Plaza's own.
 */
type Db = Kysely<any>;
type Row = Record<string, unknown>;

export async function countRows(db: Db, table: string): Promise<number> {
  const r = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Row counts of a database that may not be migrated yet (dry runs): a missing table counts 0. */
export async function countRowsIfPresent(db: Db, table: string): Promise<number> {
  return countRows(db, table).catch(() => 0);
}

/** One page of a table in primary-key order, after the key `after` (keyset paging: no OFFSET scans). */
export function pageRows(db: Db, table: string, key: readonly string[], after: unknown[] | undefined, limit: number): Promise<Row[]> {
  let q = db.selectFrom(table).selectAll();
  if (after) {
    q =
      key.length === 1
        ? q.where(key[0] as string, '>', after[0])
        : q.where((eb) => eb(eb.refTuple(key[0] as string, key[1] as string), '>', eb.tuple(after[0], after[1])));
  }
  for (const k of key) q = q.orderBy(k);
  return q.limit(limit).execute();
}

/** Names of the applied migrations, oldest first. */
export async function appliedMigrations(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('kysely_migration').select('name').orderBy('name').execute().catch(() => []);
  return rows.map((r: { name: string }) => r.name);
}

export async function deleteAllRows(trx: Db, table: string): Promise<void> {
  await trx.deleteFrom(table).execute();
}

export async function insertRows(trx: Db, table: string, rows: Row[]): Promise<void> {
  if (rows.length > 0) await trx.insertInto(table).values(rows).execute();
}

/** PostgreSQL identity columns continue after the restored ids (SQLite's AUTOINCREMENT does by itself). */
export async function resetIdentity(trx: Db, table: string): Promise<void> {
  await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql.table(table)}), 0) + 1, false)`.execute(trx);
}

/**
 * Restored sessions (and so their refresh tokens) and access keys are ended: they were issued
 * against another state. Rows stay (revoked, expired), so row counts match the archive.
 */
export async function revokeAllSessions(trx: Kysely<Tables>, now: number): Promise<void> {
  await trx.updateTable('sessions').set({ revoked_at: now }).where('revoked_at', 'is', null).execute();
  await trx.updateTable('access_keys').set({ expires_at: now }).where('expires_at', '>', now).execute();
}

export async function recordRestore(trx: Kysely<Tables>, id: string, archive: string, now: number): Promise<void> {
  await trx.insertInto('restores').values({ id, archive, restored_at: now }).execute();
}

export async function restoreCommitted(db: Kysely<Tables>, id: string): Promise<boolean> {
  const row = await db.selectFrom('restores').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}
