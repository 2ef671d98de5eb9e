import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
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
 * One fdatasync of a file at a time; a caller always gets a sync that started after it asked, and
 * every caller waiting meanwhile shares the next one (group commit for the WAL). The descriptor
 * stays open until `close`.
 */
export function createSyncer(filePath: string) {
  let handle: Promise<FileHandle | undefined> | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const syncOnce = async () => {
    handle ??= open(filePath, 'r').catch((err: NodeJS.ErrnoException) => {
      handle = undefined;
      // No WAL: the last connection closed, after checkpointing (and syncing) it into the database.
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    await (await handle)?.datasync();
  };
  const start = () => {
    const p = syncOnce().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  };
  function sync(): Promise<void> {
    if (!running) return start();
    next ??= running
      .catch(() => {})
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  }
  async function close(): Promise<void> {
    await Promise.allSettled([running, next]);
    const fh = await handle?.catch(() => undefined);
    handle = undefined;
    await fh?.close();
  }
  return { sync, close };
}

/** Linux's id of this boot; undefined elsewhere. */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Each process with the SQLite file open leaves `<file>.open-<pid>` (holding the boot id) until it
 * closes. One left by a process of an earlier boot (or any, where boot ids are unknown and that
 * process is gone) means the machine went down under it. Returns the stale markers and the new one.
 */
function openMarkers(file: string) {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.open-`;
  const boot = bootId();
  const stale: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    const full = path.join(dir, name);
    let theirs: string | undefined;
    try {
      theirs = readFileSync(full, 'utf8').trim() || undefined;
    } catch {
      continue;
    }
    const sameBoot = boot !== undefined && theirs === boot;
    if (sameBoot) {
      // Same boot: its commits are in the page cache whether or not it is still running.
      if (!isAlive(pid)) unlinkSafe(full);
      continue;
    }
    if (boot === undefined && isAlive(pid)) continue;
    stale.push(full);
  }
  const mine = path.join(dir, `${prefix}${process.pid}`);
  writeFileSync(mine, boot ?? '', { mode: 0o600 });
  for (const f of [mine, dir]) {
    const fd = openSync(f, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return { stale, mine };
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkSafe(file: string) {
  try {
    unlinkSync(file);
  } catch {}
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
    const deferred = target.synchronous !== 'normal';
    const syncWal = createSyncer(`${target.file}-wal`);
    const markers = openMarkers(target.file);
    const settled = Promise.resolve();
    const database: Database = {
      db,
      dialect: 'sqlite',
      async ping() {
        raw.prepare('select 1').get();
      },
      async close() {
        await syncWal.close();
        await db.destroy();
        unlinkSafe(markers.mine);
      },
      async transactionDurableLater(fn) {
        if (!deferred) return { result: await db.transaction().execute(fn), durable: settled };
        // One connection for the three steps: no other statement runs while FULL is switched off.
        // Holding Kysely's only connection, nothing else runs while FULL is switched off. The
        // pragmas go straight to the driver, prepared afresh: SQLite applies a pragma when it is
        // prepared, so a cached statement would not switch reliably.
        const result = await db.connection().execute(async (conn) => {
          raw.pragma('synchronous = NORMAL');
          try {
            return await conn.transaction().execute(fn);
          } finally {
            raw.pragma('synchronous = FULL');
          }
        });
        return { result, durable: syncWal.sync() };
      },
      lostUnsyncedCommits: markers.stale.length > 0,
      lossHandled() {
        for (const f of markers.stale) unlinkSafe(f);
        database.lostUnsyncedCommits = false;
      },
    };
    return database;
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
    // A PostgreSQL commit is durable when it returns.
    transactionDurableLater: async (fn) => ({ result: await db.transaction().execute(fn), durable: Promise.resolve() }),
    lostUnsyncedCommits: false,
    lossHandled() {},
  };
}
