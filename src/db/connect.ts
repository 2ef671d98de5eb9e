import type { Kysely, LogEvent } from 'kysely';
import type { Config } from '../config.js';
import { describeFailure } from '../shared/error-map.js';
import { backoffDelay } from './availability.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Tables } from './tables.js';

export type DialectName = 'sqlite' | 'postgres';

export type QueryObserver = (durationMs: number, failed: boolean) => void;

/** Kysely's log hook feeding a settable observer (nothing is timed until one is set); `onError` sees every failed query. */
export function queryLog(onError?: (err: unknown) => void) {
  let observer: QueryObserver | undefined;
  return {
    log(event: LogEvent) {
      if (event.level === 'error') onError?.(event.error);
      observer?.(event.queryDurationMillis, event.level === 'error');
    },
    observe(o: QueryObserver) {
      observer = o;
    },
  };
}

export interface Database {
  db: Kysely<Tables>;
  dialect: DialectName;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  /**
   * False while the database server is known unreachable (PostgreSQL; db/availability.ts): every
   * query then fails at once with DATABASE_UNAVAILABLE until a probe finds it back. SQLite is a
   * file: always true (a full or read-only disk fails each write on its own).
   */
  available(): boolean;
  /** Called when `available` changes (PostgreSQL only; a log line, not one per refused request). */
  onAvailabilityChange(fn: (up: boolean) => void): void;
  close(): Promise<void>;
  /**
   * Runs `fn` on one consistent, read-only view of the database while other connections keep
   * writing (backups): on SQLite a read transaction on a second connection (WAL readers never
   * block writers nor wait for them), on PostgreSQL a REPEATABLE READ, READ ONLY transaction.
   */
  snapshot<T>(fn: (db: Kysely<Tables>) => Promise<T>): Promise<T>;
  /** Hands every query's duration and outcome to `observer` (metrics); one observer at a time. */
  observeQueries(observer: QueryObserver): void;
  /**
   * A transaction whose commit others may see at once and that becomes durable a moment later:
   * `durable` settles once it is on disk, and only then may it be acknowledged. On SQLite (WAL,
   * synchronous FULL) the commit skips its own fsync; one fdatasync of the WAL, on the thread pool,
   * then covers every commit made before it started, so the event loop never waits for the disk.
   * On PostgreSQL, and on SQLite with synchronous NORMAL, `durable` is settled already.
   */
  transactionDurableLater<T>(fn: (trx: Kysely<Tables>) => Promise<T>): Promise<{ result: T; durable: Promise<void> }>;
  /**
   * SQLite: an earlier process on this file stopped without closing it while the machine went down
   * (a different boot), so commits it showed but had not yet synced may be gone. Callers that hand
   * out numbers from such commits must skip past them, then call `lossHandled`.
   */
  lostUnsyncedCommits: boolean;
  lossHandled(): void;
}

/**
 * Waits, within `withinMs`, for a database that cannot be reached yet (a server started before its
 * PostgreSQL): pings with bounded, jittered backoff while the failure is DATABASE_UNAVAILABLE,
 * telling `onWait` once; any other failure, or the time running out, is thrown.
 */
export async function waitForDatabase(database: Database, withinMs: number, onWait?: (err: unknown) => void): Promise<void> {
  const start = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await database.ping();
      return;
    } catch (err) {
      if (describeFailure(err).code !== 'DATABASE_UNAVAILABLE' || Date.now() - start >= withinMs) throw err;
      if (attempt === 0) onWait?.(err);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, 100, 1000, Math.random)));
    }
  }
}

/** Each driver is loaded only when used: loading both costs start-up time (SPEC §11). */
export function connectDatabase(config: Pick<Config, 'database'>): Promise<Database> {
  const target = config.database;
  return target.kind === 'sqlite' ? openSqlite(target) : openPostgres(target);
}
