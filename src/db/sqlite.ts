import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import type { Config } from '../config.js';
import { openMarkers } from './boot-markers.js';
import { createCheckpointer, DEFAULT_CHECKPOINT_BYTES } from './checkpointer.js';
import { type Database, queryLog } from './connect.js';
import { withStatementCache } from './statement-cache.js';
import type { Tables } from './tables.js';
import { createSyncer } from './wal-syncer.js';

export type SqliteTarget = Extract<Config['database'], { kind: 'sqlite' }>;

/**
 * The embedded database: one better-sqlite3 connection in WAL mode, commits fsync'd (FULL) except
 * those made durable later, checkpoints on the checkpointer's thread, and this process's boot
 * marker. The driver is loaded on first use only.
 */
export async function openSqlite(target: SqliteTarget): Promise<Database> {
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
  // Checkpoints run on the checkpointer's thread, never inside a commit on the event loop.
  raw.pragma('wal_autocheckpoint = 0');
  // SQLite reuses a checkpointed WAL from its start but never shrinks the file: after a burst it
  // would stay as large as the burst (and past the checkpoint threshold for good). With a
  // limit, the first commit that starts the WAL afresh truncates it to a quarter of the threshold.
  const checkpointBytes = target.checkpointBytes ?? DEFAULT_CHECKPOINT_BYTES;
  raw.pragma(`journal_size_limit = ${Math.floor(checkpointBytes / 4)}`);
  const queries = queryLog();
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }), log: queries.log });
  const deferred = target.synchronous !== 'normal';
  const syncWal = createSyncer(`${target.file}-wal`);
  const checkpointer = createCheckpointer(target.file, checkpointBytes);
  let markers: ReturnType<typeof openMarkers>;
  try {
    markers = openMarkers(target.file);
  } catch (err) {
    await checkpointer.close();
    raw.close();
    throw err;
  }
  const settled = Promise.resolve();
  /** Back to FULL after a deferred transaction; a transaction left open is rolled back first. */
  const restoreFull = () => {
    if (!raw.open) return;
    if (raw.inTransaction) {
      try {
        raw.exec('rollback');
      } catch {}
    }
    raw.pragma('synchronous = FULL');
  };
  const database: Database = {
    db,
    dialect: 'sqlite',
    async ping() {
      // Health turns red for good once the disk refused a sync: writes are no longer vouched for.
      if (syncWal.failed()) throw new Error('The disk refused to sync the database; restart Plaza once it is fixed');
      raw.prepare('select 1').get();
    },
    available: () => true,
    onAvailabilityChange() {},
    async close() {
      await checkpointer.close();
      await syncWal.close();
      await db.destroy();
      // A failed sync leaves the marker saying so: the next start skips past what was shown.
      if (syncWal.failed()) markers.markLost();
      else markers.remove();
    },
    observeQueries: queries.observe,
    async snapshot(fn) {
      // A second connection: a read transaction on the main one would hold Kysely's only
      // connection (and every request) for the whole backup.
      const reader = new Sqlite(target.file);
      reader.pragma('busy_timeout = 5000');
      reader.pragma('query_only = ON');
      const view = new Kysely<Tables>({ dialect: new SqliteDialect({ database: reader }) });
      try {
        return await view.transaction().execute(fn);
      } finally {
        await view.destroy();
      }
    },
    async transactionDurableLater(fn) {
      if (!deferred) return { result: await db.transaction().execute(fn), durable: settled };
      // Holding Kysely's only connection, nothing else runs while FULL is switched off. The
      // pragmas go straight to the driver, prepared afresh: SQLite applies a pragma when it is
      // prepared, so a cached statement would not switch reliably.
      const result = await db.connection().execute(async (conn) => {
        raw.pragma('synchronous = NORMAL');
        try {
          return await conn.transaction().execute(fn);
        } finally {
          restoreFull();
        }
      });
      return { result, durable: syncWal.sync() };
    },
    lostUnsyncedCommits: markers.stale.length > 0,
    lossHandled() {
      markers.clearStale();
      database.lostUnsyncedCommits = false;
    },
  };
  return database;
}
