import { copyFileSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MARKER } from '../../cluster/uploads-marker.js';
import type { Database } from '../../db/connect.js';
import { fsyncPath } from '../../shared/durable.js';
import { restoreCommitted } from './backup.repository.js';

/**
 * How a restore stays all-or-nothing through a kill -9. The archive is staged in
 * `<dataDir>/.restore-<id>/` (verified first); then `.restore-journal.json` is written (fsync'd),
 * and one database transaction replaces every row and records the restore's id in `restores`.
 * Only after that commit is `uploads/` swapped for the staged one (two renames). Whoever opens the
 * data dir next (`buildCore`: a server, a CLI verb, the next restore) finishes the work first:
 * with the id committed, the swap is completed (each step is done only if still needed); without
 * it, the staging is thrown away and the old state stands. So every Plaza process sees either
 * the old state or the new one, never rows of one with the files of the other.
 */
const JOURNAL = '.restore-journal.json';
const STAGE_PREFIX = '.restore-';

export interface Journal {
  id: string;
  archive: string;
  stage: string;
}

export const stageDirOf = (dataDir: string, id: string) => path.join(dataDir, `${STAGE_PREFIX}${id}`);

export function writeJournal(dataDir: string, journal: Journal): void {
  const file = path.join(dataDir, JOURNAL);
  writeFileSync(`${file}.tmp`, JSON.stringify(journal), { mode: 0o600 });
  fsyncPath(`${file}.tmp`);
  renameSync(`${file}.tmp`, file);
  fsyncPath(dataDir);
}

function readJournal(dataDir: string): Journal | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dataDir, JOURNAL), 'utf8')) as Journal;
  } catch {
    return undefined;
  }
}

export function clearJournal(dataDir: string, journal: Journal): void {
  rmSync(path.join(dataDir, JOURNAL), { force: true });
  fsyncPath(dataDir);
  rmSync(journal.stage, { recursive: true, force: true });
}

/**
 * Puts the staged uploads in place: the live folder moves into the stage (as `old-uploads`), the
 * staged one takes its name. Safe to repeat from any point: while the staged folder is still in
 * the stage, whatever is live is the old one.
 */
export function swapUploads(dataDir: string, stage: string, crashAt?: (point: string) => void): void {
  const live = path.join(dataDir, 'uploads');
  const staged = path.join(stage, 'uploads');
  if (!existsSync(staged)) return;
  if (existsSync(live)) {
    // The cluster's mark on the uploads directory (cluster/uploads-marker.ts) stays with it.
    const mark = path.join(live, MARKER);
    if (existsSync(mark) && !existsSync(path.join(staged, MARKER))) copyFileSync(mark, path.join(staged, MARKER));
    let old = path.join(stage, 'old-uploads');
    for (let i = 1; existsSync(old); i++) old = path.join(stage, `old-uploads-${i}`);
    renameSync(live, old);
    fsyncPath(dataDir);
  }
  crashAt?.('mid-swap');
  renameSync(staged, live);
  fsyncPath(dataDir);
}

/**
 * Finishes or undoes a restore a kill interrupted (see the top of this file); removes stages no
 * journal points at. The caller has checked that no restore is running on the data dir.
 */
export async function recoverInterruptedRestore(database: Database, dataDir: string): Promise<'none' | 'completed' | 'rolled-back'> {
  const journal = readJournal(dataDir);
  let outcome: 'none' | 'completed' | 'rolled-back' = 'none';
  if (journal) {
    if (await restoreCommitted(database.db, journal.id)) {
      swapUploads(dataDir, journal.stage);
      outcome = 'completed';
    } else outcome = 'rolled-back';
    clearJournal(dataDir, journal);
  }
  let names: string[] = [];
  try {
    names = readdirSync(dataDir);
  } catch {}
  for (const n of names) {
    if (n.startsWith(STAGE_PREFIX) && n !== JOURNAL && !n.endsWith('.lock')) rmSync(path.join(dataDir, n), { recursive: true, force: true });
  }
  rmSync(path.join(dataDir, `${JOURNAL}.tmp`), { force: true });
  return outcome;
}
