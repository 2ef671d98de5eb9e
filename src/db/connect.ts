import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Config } from '../config.js';
import type { Tables } from './tables.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Tables>;
  dialect: DialectName;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Kysely prepares every statement anew; preparing costs more than running a point query. The
 * handful of distinct SQL strings Plaza issues are kept prepared (bounded, oldest dropped first).
 */
function withStatementCache(raw: SqliteDatabase.Database, max = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => raw.close(),
    prepare(sql: string) {
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

/** Each driver is loaded only when used: loading both costs start-up time (SPEC §11). */
export async function connectDatabase(config: Pick<Config, 'database'>): Promise<Database> {
  const target = config.database;
  if (target.kind === 'sqlite') {
    mkdirSync(path.dirname(target.file), { recursive: true });
    const { default: Sqlite } = await import('better-sqlite3');
    const raw = new Sqlite(target.file);
    raw.pragma('journal_mode = WAL');
    // FULL (default): a committed row survives power loss, so an acknowledgement means durable.
    // NORMAL: commits skip the fsync (WAL): still safe against a crashed process, not against a
    // lost machine, and each commit stops blocking the event loop for the disk.
    raw.pragma(target.synchronous === 'normal' ? 'synchronous = NORMAL' : 'synchronous = FULL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
    return {
      db,
      dialect: 'sqlite',
      async ping() {
        raw.prepare('select 1').get();
      },
      close: () => db.destroy(),
    };
  }
  const { default: pg } = await import('pg');
  // int8 columns (times in ms, counts) fit in a double; pg returns them as strings by default.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    connectionTimeoutMillis: 3000,
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
