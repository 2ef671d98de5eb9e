import type { Pool } from 'pg';
import { Kysely, PostgresDialect, type PostgresPool, sql } from 'kysely';
import type { Config } from '../config.js';
import { createAvailability } from './availability.js';
import { type Database, queryLog } from './connect.js';
import type { Tables } from './tables.js';

export type PostgresTarget = Extract<Config['database'], { kind: 'postgres' }>;

/** How long a new connection may take: a server that drops packets is found down in this time. */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * The pool as Kysely sees it, behind the availability gate: while the server is known down a
 * connection is refused at once; a connection that cannot be made marks it down.
 */
function gatedPool(pool: Pool, availability: ReturnType<typeof createAvailability>): PostgresPool {
  return {
    async connect() {
      availability.check();
      try {
        return await pool.connect();
      } catch (err) {
        availability.failed(err);
        throw err;
      }
    },
    end: () => pool.end(),
  };
}

/** A pg pool (the driver is loaded on first use only); a commit is durable when it returns. */
export async function openPostgres(target: PostgresTarget): Promise<Database> {
  const { default: pg } = await import('pg');
  // int8 columns (times in ms, counts) fit in a double; pg returns them as strings by default.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  // The probe asks the server on a connection of its own, outside the gate (and the pool's queue).
  const availability = createAvailability({
    probe: async () => {
      const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('select 1');
      } finally {
        await client.end().catch(() => {});
      }
    },
  });
  // A client losing its server must not crash the process, idle (the pool's 'error') or checked
  // out between two statements of a transaction (its own 'error', which nothing else listens to).
  pool.on('error', (err) => availability.failed(err));
  pool.on('connect', (client) => client.on('error', (err) => availability.failed(err)));
  const queries = queryLog((err) => availability.failed(err));
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: gatedPool(pool, availability) }), log: queries.log });
  return {
    db,
    dialect: 'postgres',
    async ping() {
      availability.check();
      await sql`select 1`.execute(db);
    },
    available: () => availability.up,
    onAvailabilityChange: (fn) => availability.onChange(fn),
    async close() {
      availability.close();
      await db.destroy();
    },
    observeQueries: queries.observe,
    snapshot: (fn) => db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn),
    // A PostgreSQL commit is durable when it returns.
    transactionDurableLater: async (fn) => ({ result: await db.transaction().execute(fn), durable: Promise.resolve() }),
    lostUnsyncedCommits: false,
    lossHandled() {},
  };
}
