import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Database } from '../../db/connect.js';
import type { Storage } from '../../files/storage.js';
import { type AuditSink, failureCode, NO_AUDIT } from '../../shared/audit-events.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import { isStorageFull } from '../../shared/system-errors.js';
import { VERSION } from '../health.service.js';
import { createArchiveWriter } from './archive-writer.js';
import { createArchiveShelf } from './archive-shelf.js';
export type { ArchiveInfo } from './archive-shelf.js';
import { FORMAT_VERSION, fileEntry, type Manifest, parseEntryName, tableEntry } from './backup-format.js';
import { exportTables } from './table-export.js';

export interface BackupDeps {
  database: Database;
  storage: Pick<Storage, 'openForBackup' | 'holdDeletions'>;
  dataDir: string;
  clock: Clock;
  /** Regular archives kept in data/backups after each backup there (0 = all). */
  keep: number;
  /** Where each backup is recorded (none in unit tests). */
  audit?: AuditSink;
}

export interface BackupProgress {
  phase: 'database' | 'files' | 'done';
  doneBytes: number;
  totalBytes: number;
}

export interface BackupResult {
  name: string;
  path: string;
  size: number;
  durationMs: number;
  manifest: Manifest;
  /** Files the snapshot lists whose bytes were missing from storage (archived as missing). */
  missing: string[];
}

export type BackupService = ReturnType<typeof createBackupService>;

/**
 * Backups while the server keeps serving: one database snapshot exported table by table, every
 * file that snapshot lists (kept by a deletion hold even if deleted meanwhile; an upload is listed
 * only once its bytes are complete, so it is wholly in or out), a manifest; written as a `.partial`
 * file beside the archive, fsync'd, then renamed to its final name.
 */
export function createBackupService({ database, storage, dataDir, clock, keep, audit = NO_AUDIT }: BackupDeps) {
  const defaultDir = path.join(dataDir, 'backups');
  const { placeArchive, list, find, remove, prune } = createArchiveShelf(defaultDir, keep);
  let running = false;

  async function create(opts: Options = {}): Promise<BackupResult> {
    if (running) throw new AppError('BACKUP_IN_PROGRESS', 'A backup is already being written; try again when it is done');
    running = true;
    const event = { action: 'backup', actor: opts.by?.actor, ip: opts.by?.ip ?? 'cli' } as const;
    try {
      const done = await write(opts);
      audit.record({ ...event, outcome: 'success', target: done.name, detail: { bytes: done.size, durationMs: Math.round(done.durationMs), files: done.manifest.fileCount } });
      return done;
    } catch (err) {
      audit.record({ ...event, outcome: 'failure', detail: { code: failureCode(err) } });
      throw err;
    } finally {
      running = false;
    }
  }

  type Options = {
    outputDir?: string;
    label?: string;
    onProgress?: (p: BackupProgress) => void;
    /** Who asked, for the audit log (default: the command line). */
    by?: { actor?: { id: number; username: string }; ip: string };
  };

  async function write(opts: Options) {
    const started = clock.now();
    const dir = path.resolve(opts.outputDir ?? defaultDir);
    try {
      return await writeInto(dir, started, opts);
    } catch (err) {
      if (isStorageFull(err)) {
        throw new AppError('STORAGE_FULL', `The disk holding ${dir} is full: no backup was written, and nothing partial was left`, { cause: err });
      }
      throw err;
    }
  }

  async function writeInto(dir: string, started: number, { outputDir, label, onProgress = () => {} }: Options) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const work = await mkdtemp(path.join(dir, '.partial-'));
    // Before the snapshot starts: a delete from now on keeps its bytes for us (deletion-holds.ts).
    const release = await storage.holdDeletions();
    try {
      const snap = await database.snapshot((view) => exportTables(view, work));
      const tableBytes = await Promise.all(snap.tableFiles.map(async (t) => (await stat(t.file)).size));
      const totalBytes = tableBytes.reduce((a, b) => a + b, 0) + snap.files.reduce((a, f) => a + f.size, 0);
      let doneBytes = 0;
      let phase: BackupProgress['phase'] = 'database';
      const progress = (n: number) => {
        doneBytes += n;
        onProgress({ phase, doneBytes, totalBytes });
      };
      const partial = path.join(work, 'archive.tar');
      const writer = createArchiveWriter(partial, progress);
      const at = new Date(started);
      try {
        for (const [i, t] of snap.tableFiles.entries()) {
          await writer.add(tableEntry(t.table), tableBytes[i] ?? 0, createReadStream(t.file, { highWaterMark: 1024 * 1024 }), at);
        }
        phase = 'files';
        const missing: string[] = [];
        let fileBytes = 0;
        for (const f of snap.files) {
          // A row whose name is not one Plaza writes would make the whole archive unrestorable.
          const valid = parseEntryName(fileEntry(f.category, f.storedName))?.kind === 'file';
          const opened = valid ? await storage.openForBackup(f.category, f.storedName).catch(() => undefined) : undefined;
          if (!opened) {
            missing.push(fileEntry(f.category, f.storedName));
            continue;
          }
          await writer.addFile(fileEntry(f.category, f.storedName), opened.fh, opened.size, new Date(opened.mtimeMs));
          fileBytes += opened.size;
        }
        const manifest = await writer.finish({
          format: 'plaza-backup',
          formatVersion: FORMAT_VERSION,
          plazaVersion: VERSION,
          createdAt: at.toISOString(),
          dialect: database.dialect,
          migrations: snap.migrations,
          schemaVersion: snap.migrations.at(-1) ?? '',
          rowCounts: snap.rowCounts,
          fileCount: snap.files.length - missing.length,
          fileBytes,
          ...(missing.length > 0 ? { missing } : {}),
        });
        // Asynchronously: a server's event loop must not wait for a gigabyte to reach the disk.
        const fh = await open(partial, 'r');
        await fh.sync().finally(() => fh.close());
        const name = await placeArchive(partial, dir, at, label);
        last = undefined;
        phase = 'done';
        onProgress({ phase, doneBytes, totalBytes });
        if (!outputDir && !label) await prune();
        const size = (await stat(path.join(dir, name))).size;
        return { name, path: path.join(dir, name), size, durationMs: clock.now() - started, manifest, missing };
      } catch (err) {
        await writer.abort();
        throw err;
      }
    } finally {
      await release();
      await rm(work, { recursive: true, force: true });
    }
  }

  let last: { at: number; value: string | undefined } | undefined;
  /**
   * When the newest archive in data/backups was taken (any process's), for readiness; read from
   * the folder at most every 5 s, since health checks may come often.
   */
  async function lastBackupAt(): Promise<string | undefined> {
    if (last && clock.now() - last.at < 5000) return last.value;
    const value = (await list())[0]?.createdAt;
    last = { at: clock.now(), value };
    return value;
  }

  return { create, list, find, remove, prune, lastBackupAt, directory: defaultDir, get running() { return running; } };
}
