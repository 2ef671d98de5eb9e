import type { Kysely, Selectable } from 'kysely';
import type { FilesTable, Tables } from '../db/tables.js';
import type { ListAfter } from './list-cursor.js';

export type FileRow = Selectable<FilesTable>;
type Db = Kysely<Tables>;

export interface ListQuery {
  ownerId?: number;
  category?: FileRow['category'];
  sort: 'created_at' | 'original_name' | 'size';
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
  /** Keyset paging: rows strictly after this one in the list's order (then `offset` is 0). */
  after?: ListAfter | undefined;
}

/** Adds a file and counts it in its owner's totals. Call inside the upload's transaction. */
export async function insertFile(db: Db, row: FileRow): Promise<void> {
  await db.insertInto('files').values(row).execute();
  await db
    .insertInto('file_totals')
    .values({ owner_id: row.owner_id, category: row.category, file_count: 1, byte_count: row.size })
    .onConflict((oc) =>
      oc.columns(['owner_id', 'category']).doUpdateSet((eb) => ({
        file_count: eb('file_totals.file_count', '+', 1),
        byte_count: eb('file_totals.byte_count', '+', row.size),
      })),
    )
    .execute();
}

export function findFileById(db: Db, id: string): Promise<FileRow | undefined> {
  return db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findFileByStoredName(db: Db, storedName: string): Promise<FileRow | undefined> {
  return db.selectFrom('files').selectAll().where('stored_name', '=', storedName).executeTakeFirst();
}

/** Files named `name` (original or stored name), newest first; `ownerId` undefined = everyone's. */
export function findFilesByName(db: Db, name: string, ownerId?: number, category?: FileRow['category']) {
  let q = db
    .selectFrom('files')
    .selectAll()
    .where((eb) => eb.or([eb('original_name', '=', name), eb('stored_name', '=', name)]));
  if (ownerId !== undefined) q = q.where('owner_id', '=', ownerId);
  if (category !== undefined) q = q.where('category', '=', category);
  return q.orderBy('created_at', 'desc').orderBy('id').limit(50).execute();
}

export async function listFiles(db: Db, query: ListQuery): Promise<{ rows: FileRow[]; total: number }> {
  let base = db.selectFrom('files');
  if (query.ownerId !== undefined) base = base.where('owner_id', '=', query.ownerId);
  if (query.category !== undefined) base = base.where('category', '=', query.category);
  const after = query.after;
  if (after) {
    const op = query.order === 'asc' ? '>' : '<';
    base = base.where((eb) => eb(eb.refTuple(query.sort, 'id'), op, eb.tuple(after.value, after.id)));
  }
  const rows = await base
    .selectAll()
    .orderBy(query.sort, query.order)
    .orderBy('id', query.order)
    .limit(query.limit)
    .offset(query.offset)
    .execute();
  return { rows, total: await countFiles(db, query.ownerId, query.category) };
}

/** How many files (of one owner, of one category): read from the totals, a few rows whatever the count. */
async function countFiles(db: Db, ownerId?: number, category?: FileRow['category']): Promise<number> {
  let q = db.selectFrom('file_totals').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('file_count'), eb.lit(0)).as('n'));
  if (ownerId !== undefined) q = q.where('owner_id', '=', ownerId);
  if (category !== undefined) q = q.where('category', '=', category);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

export async function renameFile(db: Db, id: string, originalName: string, now: number): Promise<void> {
  await db.updateTable('files').set({ original_name: originalName, updated_at: now }).where('id', '=', id).execute();
}

/** Removes a file and takes it out of its owner's totals, in one transaction (the caller's, if it is in one). */
export async function deleteFile(db: Db, id: string): Promise<boolean> {
  if (!db.isTransaction) return db.transaction().execute((trx) => deleteFile(trx, id));
  const row = await db.deleteFrom('files').where('id', '=', id).returning(['owner_id', 'category', 'size']).executeTakeFirst();
  if (!row) return false;
  await db
    .updateTable('file_totals')
    .set((eb) => ({ file_count: eb('file_count', '-', 1), byte_count: eb('byte_count', '-', Number(row.size)) }))
    .where('owner_id', '=', row.owner_id)
    .where('category', '=', row.category)
    .execute();
  return true;
}

/** Recounts every owner's totals from the rows (after rows were written in bulk, as a restore does). */
export async function rebuildFileTotals(db: Db): Promise<void> {
  await db.deleteFrom('file_totals').execute();
  await db
    .insertInto('file_totals')
    .columns(['owner_id', 'category', 'file_count', 'byte_count'])
    .expression((eb) =>
      eb
        .selectFrom('files')
        .select((e) => ['owner_id', 'category', e.fn.countAll<number>().as('file_count'), e.fn.sum<number>('size').as('byte_count')])
        .groupBy(['owner_id', 'category']),
    )
    .execute();
}

/** The bytes an owner's files hold, from the totals. */
export async function usageOf(db: Db, ownerId: number): Promise<number> {
  const r = await db
    .selectFrom('file_totals')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('byte_count'), eb.lit(0)).as('used'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow();
  return Number(r.used);
}

export async function quotaOverride(db: Db, userId: number): Promise<number | null> {
  const r = await db.selectFrom('users').select('quota_bytes').where('id', '=', userId).executeTakeFirst();
  return r?.quota_bytes ?? null;
}

export async function setQuotaOverride(db: Db, userId: number, bytes: number | null): Promise<boolean> {
  const r = await db.updateTable('users').set({ quota_bytes: bytes }).where('id', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Which of these stored names have a row. */
export async function existingStoredNames(db: Db, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db.selectFrom('files').select('stored_name').where('stored_name', 'in', names).execute();
  return new Set(rows.map((r) => r.stored_name));
}
