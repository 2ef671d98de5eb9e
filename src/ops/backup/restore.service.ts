import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../../config.js';
import { connectDatabase, type Database } from '../../db/connect.js';
import { rebuildFileTotals } from '../../files/files.repository.js';
import { MIGRATIONS } from '../../db/migrations/index.js';
import { type AuditSink, failureCode } from '../../shared/audit-events.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import { isStorageFull } from '../../shared/system-errors.js';
import { readArchive } from './archive-reader.js';
import { CATEGORIES, type Manifest, TABLES } from './backup-format.js';
import { countRowsIfPresent, deleteAllRows, insertRows, recordRestore, resetIdentity, restoreCommitted, revokeAllSessions } from './backup.repository.js';
import type { BackupResult, BackupService } from './backup.service.js';
import { clearJournal, stageDirOf, swapUploads, writeJournal } from './restore-journal.js';

export interface RestorePlan {
  archive: string;
  archiveBytes: number;
  manifest: Manifest;
  checksums: 'verified';
  /** What the restore would replace: the current rows per table and stored files. */
  current: { rowCounts: Record<string, number>; files: number };
}

export interface RestoreResult extends RestorePlan {
  safetyBackup: string;
  durationMs: number;
}

/** Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const PARAMS_PER_INSERT = 10_000;

/** What the data dir holds now, for a plan (reads only; a database never migrated counts 0). */
export async function currentState(database: Database | undefined): Promise<RestorePlan['current']> {
  const rowCounts: Record<string, number> = {};
  for (const t of TABLES) rowCounts[t.name] = database ? await countRowsIfPresent(database.db, t.name) : 0;
  return { rowCounts, files: rowCounts.files ?? 0 };
}

/** Verifies an archive end to end without writing anything: the dry run. */
export async function planRestore(archive: string, database: Database | undefined, onBytes?: (n: number) => void): Promise<RestorePlan> {
  const archiveBytes = (await stat(archive)).size;
  const { manifest } = await readArchive(archive, onBytes ? { onBytes } : {});
  checkSchema(manifest);
  return { archive, archiveBytes, manifest, checksums: 'verified', current: await currentState(database) };
}

/**
 * The dry run from the command line: the archive verified, and the data dir's current counts read
 * without migrating or creating anything (no database yet counts as empty).
 */
export async function inspectRestore(config: Readonly<Config>, archive: string, onBytes?: (n: number) => void): Promise<RestorePlan> {
  const present = config.database.kind === 'postgres' || existsSync(config.database.file);
  const database = present ? await connectDatabase(config) : undefined;
  try {
    return await planRestore(archive, database, onBytes);
  } finally {
    await database?.close();
  }
}

/** The archive's schema must be one this Plaza knows (an older one is fine: migrations add defaults). */
function checkSchema(m: Manifest) {
  const known = new Set(Object.keys(MIGRATIONS));
  const unknown = m.migrations.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new AppError('ARCHIVE_INVALID', `The archive's schema is newer than this Plaza's (${unknown.join(', ')}): upgrade Plaza to restore it`);
  }
}

export interface RestoreDeps {
  database: Database;
  backups: Pick<BackupService, 'create'>;
  dataDir: string;
  clock: Clock;
  /** Tests only: where to kill this process (PLAZA_TEST_CRASH_AT). */
  crashAt?: (point: string) => void;
  /** The audit log (the restore and its outcome are recorded; the log itself is never restored). */
  audit?: AuditSink;
}

/**
 * A real restore (the caller holds the data dir's restore lock): stage and verify every entry,
 * ask, take a safety backup, then replace everything in one transaction and swap the files
 * (restore-journal.ts says why a kill at any point leaves the old state or the new one).
 */
export async function runRestore(
  deps: RestoreDeps,
  archive: string,
  opts: { confirm: (plan: RestorePlan) => Promise<boolean>; onBytes?: (n: number) => void; onStep?: (step: string) => void },
): Promise<RestoreResult | undefined> {
  const event = { action: 'restore', ip: 'cli', target: path.basename(archive) } as const;
  try {
    const done = await restoreArchive(deps, archive, opts);
    if (done) deps.audit?.record({ ...event, outcome: 'success', detail: { durationMs: Math.round(done.durationMs), safetyBackup: path.basename(done.safetyBackup) } });
    return done;
  } catch (err) {
    deps.audit?.record({ ...event, outcome: 'failure', detail: { code: failureCode(err) } });
    throw err;
  }
}

async function restoreArchive(
  deps: RestoreDeps,
  archive: string,
  opts: { confirm: (plan: RestorePlan) => Promise<boolean>; onBytes?: (n: number) => void; onStep?: (step: string) => void },
): Promise<RestoreResult | undefined> {
  const { database, dataDir, clock } = deps;
  const crashAt = deps.crashAt ?? (() => {});
  const started = clock.now();
  const id = `${started}-${randomBytes(4).toString('hex')}`;
  const stage = stageDirOf(dataDir, id);
  let journaled = false;
  try {
    opts.onStep?.('verifying');
    const archiveBytes = (await stat(archive)).size;
    // The staged uploads exist even for an archive without files, so the swap always replaces
    // the old ones (no unlisted bytes of the old state stay behind).
    for (const c of CATEGORIES) await mkdir(path.join(stage, 'uploads', c), { recursive: true, mode: 0o700 });
    const { manifest } = await readArchive(archive, { stageDir: stage, ...(opts.onBytes ? { onBytes: opts.onBytes } : {}) }).catch((err) => {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (!isStorageFull(cause)) throw err;
      throw new AppError('STORAGE_FULL', `No room on the disk of ${dataDir} to stage the archive beside the data: nothing was changed`, { cause });
    });
    checkSchema(manifest);
    const plan: RestorePlan = { archive, archiveBytes, manifest, checksums: 'verified', current: await currentState(database) };
    if (!(await opts.confirm(plan))) return undefined;
    opts.onStep?.('safety backup');
    const safety: BackupResult = await deps.backups.create({ label: 'pre-restore' });
    crashAt('after-safety-backup');
    writeJournal(dataDir, { id, archive: path.basename(archive), stage });
    journaled = true;
    opts.onStep?.('replacing the database');
    await importRows(database, stage, id, path.basename(archive), clock.now(), crashAt);
    crashAt('after-commit');
    opts.onStep?.('swapping files');
    swapUploads(dataDir, stage, crashAt);
    clearJournal(dataDir, { id, archive, stage });
    return { ...plan, safetyBackup: safety.path, durationMs: clock.now() - started };
  } catch (err) {
    // Before the commit nothing live has changed: the staging goes, and the journal with it. A
    // failure after the commit leaves the journal, so the next start completes the swap.
    const committed = journaled && (await restoreCommitted(database.db, id).catch(() => true));
    if (journaled && !committed) clearJournal(dataDir, { id, archive, stage });
    throw err;
  } finally {
    if (!journaled) await rm(stage, { recursive: true, force: true });
  }
}

/** One transaction: every table emptied and refilled from the staged rows; sessions revoked. */
async function importRows(database: Database, stage: string, id: string, archive: string, now: number, crashAt: (p: string) => void) {
  await database.db.transaction().execute(async (trx) => {
    for (const t of [...TABLES].reverse()) await deleteAllRows(trx, t.name);
    for (const t of TABLES) {
      const file = path.join(stage, 'db', `${t.name}.jsonl`);
      if (!existsSync(file)) continue;
      let batch: Record<string, unknown>[] = [];
      let perRow = 1;
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        if (line === '') continue;
        const row = JSON.parse(line) as Record<string, unknown>;
        perRow = Math.max(perRow, Object.keys(row).length);
        batch.push(row);
        if (batch.length * perRow >= PARAMS_PER_INSERT) {
          await insertRows(trx, t.name, batch);
          batch = [];
        }
      }
      await insertRows(trx, t.name, batch);
      if (database.dialect === 'postgres' && 'identity' in t && t.identity) await resetIdentity(trx, t.name);
    }
    // Derived from the files rows (not in the archive): recounted from what was just restored.
    await rebuildFileTotals(trx);
    await revokeAllSessions(trx, now);
    await recordRestore(trx, id, archive, now);
    crashAt('before-commit');
  });
}
