import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type DbKind = 'sqlite' | 'postgres';

export const PG_URL = process.env.PLAZA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let cached: Promise<DbKind[]> | undefined;

/**
 * The databases to run the account tests on. PostgreSQL is required in CI (CI=true): a missing
 * server fails the run. Elsewhere it is skipped with a clear line.
 */
export function testDatabases(): Promise<DbKind[]> {
  cached ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return ['sqlite', 'postgres'] as DbKind[];
    } catch (err) {
      if (process.env.CI === 'true' || process.env.CI === '1') {
        throw new Error(`PostgreSQL is required in CI but ${PG_URL} is unreachable: ${(err as Error).message}`);
      }
      console.warn(`SKIPPING PostgreSQL tests: ${PG_URL} is unreachable (${(err as Error).message}). They run in CI.`);
      return ['sqlite'] as DbKind[];
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return cached;
}

/** A fresh schema on the test PostgreSQL, dropped by the returned function. */
export async function createPgSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  return {
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/**
 * Pairs each database with whether uploads are written with O_DIRECT: SQLite asks for it,
 * PostgreSQL writes buffered, so one run covers both disk writers (SQLite alone runs both ways).
 */
export function withWriters(dbs: DbKind[]): Array<[DbKind, boolean]> {
  return dbs.length > 1 ? dbs.map((db) => [db, db === 'sqlite']) : dbs.flatMap((db) => [[db, true], [db, false]] as Array<[DbKind, boolean]>);
}
