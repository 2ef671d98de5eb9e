import { type Kysely, type Selectable, sql } from 'kysely';
import type { DialectName } from '../../db/connect.js';
import type { ConsoleQueriesTable, Tables } from '../../db/tables.js';

/** The database console's own SQL: the catalog (tables, columns, indexes, samples) and saved queries. */

type Db = Kysely<Tables>;
export type SavedQueryRow = Selectable<ConsoleQueriesTable>;

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  primaryKey: boolean;
  default: string | null;
}

export interface IndexInfo {
  name: string;
  unique: boolean;
  definition: string | null;
}

/** The tables of Plaza's database (PostgreSQL: of the current schema), by name. */
export async function listTables(db: Db, dialect: DialectName): Promise<string[]> {
  const r =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return r.rows.map((row) => row.name);
}

/** `table` must be a name listTables returned (it is quoted as an identifier either way). */
export async function countRows(db: Db, table: string): Promise<number> {
  const r = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

export async function listColumns(db: Db, dialect: DialectName, table: string): Promise<ColumnInfo[]> {
  if (dialect === 'sqlite') {
    const r = await sql<{ name: string; type: string; notnull: number; pk: number; dflt_value: string | null }>`
      select name, type, "notnull", pk, dflt_value from pragma_table_info(${table}) order by cid`.execute(db);
    return r.rows.map((c) => ({ name: c.name, type: c.type, nullable: c.notnull === 0 && c.pk === 0, primaryKey: c.pk > 0, default: c.dflt_value }));
  }
  const r = await sql<{ name: string; type: string; nullable: string; dflt: string | null; pk: boolean }>`
    select c.column_name as name, c.data_type as type, c.is_nullable as nullable, c.column_default as dflt,
      exists (select 1 from information_schema.table_constraints tc
        join information_schema.key_column_usage k on k.constraint_name = tc.constraint_name and k.table_schema = tc.table_schema
        where tc.table_schema = c.table_schema and tc.table_name = c.table_name and tc.constraint_type = 'PRIMARY KEY'
          and k.column_name = c.column_name) as pk
    from information_schema.columns c
    where c.table_schema = current_schema() and c.table_name = ${table} order by c.ordinal_position`.execute(db);
  return r.rows.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable === 'YES', primaryKey: c.pk, default: c.dflt }));
}

export async function listIndexes(db: Db, dialect: DialectName, table: string): Promise<IndexInfo[]> {
  if (dialect === 'sqlite') {
    const r = await sql<{ name: string; unique: number; definition: string | null }>`
      select l.name as name, l."unique" as "unique", m.sql as definition from pragma_index_list(${table}) l
      left join sqlite_master m on m.type = 'index' and m.name = l.name order by l.name`.execute(db);
    return r.rows.map((i) => ({ name: i.name, unique: i.unique === 1, definition: i.definition }));
  }
  const r = await sql<{ name: string; definition: string }>`
    select indexname as name, indexdef as definition from pg_indexes
    where schemaname = current_schema() and tablename = ${table} order by indexname`.execute(db);
  return r.rows.map((i) => ({ name: i.name, unique: /^create unique/i.test(i.definition), definition: i.definition }));
}

/** The first `limit` rows of `table` (a name listTables returned), as objects. */
export async function sampleRows(db: Db, table: string, limit: number): Promise<Record<string, unknown>[]> {
  const r = await sql<Record<string, unknown>>`select * from ${sql.table(table)} limit ${limit}`.execute(db);
  return r.rows;
}

export async function listSavedQueries(db: Db, userId: number): Promise<SavedQueryRow[]> {
  return db.selectFrom('console_queries').selectAll().where('user_id', '=', userId).orderBy('name').execute();
}

export async function findSavedQuery(db: Db, userId: number, id: string): Promise<SavedQueryRow | undefined> {
  return db.selectFrom('console_queries').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function insertSavedQuery(db: Db, row: SavedQueryRow): Promise<void> {
  await db.insertInto('console_queries').values(row).execute();
}

export async function updateSavedQuery(
  db: Db,
  userId: number,
  id: string,
  patch: Partial<Pick<SavedQueryRow, 'name' | 'sql' | 'chart'>> & { updated_at: number },
): Promise<boolean> {
  const r = await db.updateTable('console_queries').set(patch).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteSavedQuery(db: Db, userId: number, id: string): Promise<boolean> {
  const r = await db.deleteFrom('console_queries').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
