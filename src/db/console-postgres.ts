import type pg from 'pg';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';
import { CONSOLE_BATCH, type ConsoleChunk, type ConsoleRunner, type ConsoleStatement, toCell } from './console-runner.js';

type Target = Extract<Config['database'], { kind: 'postgres' }>;

const CURSOR = 'plaza_console';

/** PostgreSQL's words for a cancelled statement: the statement timeout. */
const isTimeout = (err: unknown) => (err as { code?: string }).code === '57014';

function failure(err: unknown, timeoutMs: number): AppError {
  if (err instanceof AppError) return err;
  if (isTimeout(err)) return new AppError('QUERY_TIMEOUT', `The query ran past ${timeoutMs} ms and was stopped (PLAZA_CONSOLE_TIMEOUT_MS)`);
  return new AppError('QUERY_FAILED', err instanceof Error ? err.message : String(err));
}

/**
 * PostgreSQL console queries on a pool of their own (two connections: a console query never holds
 * one the server needs). Each runs in its own transaction — REPEATABLE READ, READ ONLY unless the
 * write switch is on — with `SET LOCAL statement_timeout`; every statement goes over the extended
 * protocol, which takes exactly one statement. Read-mode SELECTs page through a cursor, so a cross
 * join of billions of rows costs the row cap, not the join. A client still busy past the deadline
 * (plus a second) is destroyed rather than returned to the pool.
 */
export async function createPostgresConsole(target: Target): Promise<ConsoleRunner> {
  const { default: pgModule } = await import('pg');
  const pool = new pgModule.Pool({
    connectionString: target.url,
    max: 2,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 60_000,
    application_name: 'plaza-console',
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  pool.on('error', () => {});

  const query = (client: pg.PoolClient, text: string) => client.query<unknown[]>({ text, rowMode: 'array', queryMode: 'extended' } as pg.QueryConfig);
  const names = (fields: { name: string }[]) => fields.map((f) => f.name);
  const cells = (rows: unknown[][]) => rows.map((r) => r.map(toCell));

  async function* execute(s: ConsoleStatement, client: pg.PoolClient): AsyncGenerator<ConsoleChunk> {
    await client.query(s.write ? 'BEGIN' : 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(s.timeoutMs))}`);
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1000, Math.floor(s.timeoutMs * 2))}`);
    if (s.cursor && !s.write) {
      await query(client, `DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${s.sql}`);
      let count = 0;
      let truncated = false;
      let first = true;
      for (;;) {
        const want = Math.min(CONSOLE_BATCH, s.maxRows + 1 - count);
        const r = await query(client, `FETCH ${want} FROM ${CURSOR}`);
        if (first) yield { kind: 'columns', columns: names(r.fields) };
        first = false;
        const rows = r.rows.slice(0, s.maxRows - count);
        if (r.rows.length > rows.length) truncated = true;
        count += rows.length;
        if (rows.length > 0) yield { kind: 'rows', rows: cells(rows) };
        if (truncated || r.rows.length < want) break;
      }
      await client.query('ROLLBACK');
      yield { kind: 'end', truncated, changes: null };
      return;
    }
    const r = await query(client, s.sql);
    await client.query(s.write ? 'COMMIT' : 'ROLLBACK');
    const all = Array.isArray(r.rows) ? r.rows : [];
    yield { kind: 'columns', columns: names(r.fields ?? []) };
    for (let i = 0; i < Math.min(all.length, s.maxRows); i += CONSOLE_BATCH) {
      yield { kind: 'rows', rows: cells(all.slice(i, Math.min(i + CONSOLE_BATCH, s.maxRows))) };
    }
    yield { kind: 'end', truncated: all.length > s.maxRows, changes: r.fields?.length ? null : (r.rowCount ?? null) };
  }

  return {
    async *run(s) {
      const client = await pool.connect().catch((err: unknown) => {
        throw new AppError('DATABASE_UNAVAILABLE', `The console could not reach PostgreSQL: ${(err as Error).message}`);
      });
      let broken = false;
      // statement_timeout stops the statement; this stops a client that still does not answer.
      const watchdog = setTimeout(() => {
        broken = true;
        client.release(new Error('console query past its deadline'));
      }, s.timeoutMs + 1000);
      let done = false;
      try {
        yield* execute(s, client);
        done = true;
      } catch (err) {
        if (broken) throw new AppError('QUERY_TIMEOUT', `The query ran past ${s.timeoutMs} ms and was stopped (PLAZA_CONSOLE_TIMEOUT_MS)`);
        throw failure(err, s.timeoutMs);
      } finally {
        clearTimeout(watchdog);
        if (!broken) {
          if (!done) await client.query('ROLLBACK').catch(() => {});
          client.release();
        }
      }
    },
    close: () => pool.end(),
  };
}
