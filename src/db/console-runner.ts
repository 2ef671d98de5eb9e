import type { Config } from '../config.js';
import type { Cell } from './console-cells.js';

export { type Cell, CONSOLE_BATCH, toCell } from './console-cells.js';

/**
 * How the admin database console runs an admin's SQL, apart from the server's own connections
 * (decision 0009): on SQLite in a child process holding its own read-only connection (killed at
 * the timeout: better-sqlite3 cannot interrupt a statement, and a worker thread cannot be stopped
 * inside one), on PostgreSQL on a pool of its own in a READ ONLY transaction with a local
 * statement_timeout. Writes (the admin's explicit switch) run in a transaction of their own.
 */
export interface ConsoleStatement {
  sql: string;
  write: boolean;
  /** Cut off after this long (the whole run). */
  timeoutMs: number;
  /** Rows read at most; one more is looked for to tell a result was cut. */
  maxRows: number;
  /** PostgreSQL read mode pages through a cursor when the statement allows one. */
  cursor: boolean;
}

/** A run's output, in order: its columns, batches of rows, then its end. */
export type ConsoleChunk =
  | { kind: 'columns'; columns: string[] }
  | { kind: 'rows'; rows: Cell[][] }
  | { kind: 'end'; truncated: boolean; changes: number | null };

export interface ConsoleRunner {
  /** Throws AppError QUERY_FAILED (the database's message) or QUERY_TIMEOUT. */
  run(statement: ConsoleStatement): AsyncIterable<ConsoleChunk>;
  close(): Promise<void>;
}

export async function openConsoleRunner(target: Config['database']): Promise<ConsoleRunner> {
  if (target.kind === 'sqlite') {
    const { createSqliteConsole } = await import('./console-sqlite.js');
    return createSqliteConsole(target.file);
  }
  const { createPostgresConsole } = await import('./console-postgres.js');
  return createPostgresConsole(target);
}
