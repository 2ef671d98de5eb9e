import type SqliteDatabase from 'better-sqlite3';

/** Stands in for a ROLLBACK that SQLite already did itself (see withStatementCache). */
const NO_OP_STATEMENT = { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) } as unknown as SqliteDatabase.Statement;

/**
 * Kysely prepares every statement anew; preparing costs more than running a point query. The
 * handful of distinct SQL strings Plaza issues are kept prepared (bounded, oldest dropped first).
 */
export function withStatementCache(raw: SqliteDatabase.Database, max = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => raw.close(),
    prepare(sql: string) {
      // SQLite rolls a transaction back by itself on SQLITE_FULL or an I/O error; Kysely's ROLLBACK
      // after that fails ("no transaction is active") and would hide the error that matters.
      if (sql === 'rollback' && !raw.inTransaction) return NO_OP_STATEMENT;
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = raw.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}
