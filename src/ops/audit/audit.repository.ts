import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import type { AuditLogTable, Tables } from '../../db/tables.js';

export type AuditRow = Selectable<AuditLogTable>;
export type NewAuditRow = Insertable<AuditLogTable>;

type Db = Kysely<Tables>;

/** One multi-row insert for the events of one moment. */
export async function insertAuditRows(db: Db, rows: NewAuditRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('audit_log').values(rows).execute();
}

export interface AuditFilter {
  action?: string | undefined;
  outcome?: 'success' | 'failure' | undefined;
  actorId?: number | undefined;
  /** Substring of the actor's name, the target, the address or the detail. */
  text?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  /** Entries with a smaller id (the next page, newest first). */
  before?: number | undefined;
  limit: number;
}

/** LIKE's wildcards taken literally. */
const likeLiteral = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Newest first, keyset-paged by id. */
export async function listAuditRows(db: Db, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.action !== undefined) q = q.where('action', '=', f.action);
  if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
  if (f.actorId !== undefined) q = q.where('actor_id', '=', f.actorId);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  if (f.text !== undefined) {
    const pattern = likeLiteral(f.text.toLowerCase());
    q = q.where((eb) =>
      eb.or((['actor_name', 'target', 'ip', 'detail'] as const).map((c) => sql<boolean>`lower(${sql.ref(c)}) like ${pattern} escape '\\'`)),
    );
  }
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

/** Deletes entries older than `before`; the number removed. */
export async function deleteAuditRowsBefore(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('audit_log').where('at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
