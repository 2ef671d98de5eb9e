import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Config } from '../config.js';
import { type Database, queryLog } from './connect.js';
import type { Tables } from './tables.js';

export type PostgresTarget = Extract<Config['database'], { kind: 'postgres' }>;

/** A pg pool (the driver is loaded on first use only); a commit is durable when it returns. */
export async function openPostgres(target: PostgresTarget): Promise<Database> {
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
  const queries = queryLog();
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), log: queries.log });
  return {
    db,
    dialect: 'postgres',
    async ping() {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
    observeQueries: queries.observe,
    snapshot: (fn) => db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn),
    // A PostgreSQL commit is durable when it returns.
    transactionDurableLater: async (fn) => ({ result: await db.transaction().execute(fn), durable: Promise.resolve() }),
    lostUnsyncedCommits: false,
    lossHandled() {},
  };
}
