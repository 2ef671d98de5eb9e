import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fsyncPath } from '../shared/durable.js';
import { isProcessAlive } from '../shared/processes.js';

/** Linux's id of this boot; undefined elsewhere. */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** What a marker says when its process could not make a commit durable: treat as lost. */
const SYNC_FAILED = 'sync-failed';

/**
 * Each process with the SQLite file open leaves `<file>.open-<pid>-<random>` holding the boot id
 * until it closes (written atomically: a temp file renamed into place). At start, a marker of an
 * earlier boot (or saying a sync failed) means commits its process showed may never have reached
 * the disk. Where boot ids are unknown, a marker whose process is gone counts the same. Markers of
 * this boot whose process is gone lost nothing (their commits are in the page cache): removed.
 */
export function openMarkers(file: string) {
  const dir = path.dirname(file);
  const prefix = `${path.basename(file)}.open-`;
  const boot = bootId();
  const stale: Array<{ path: string; content: string }> = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    const full = path.join(dir, name);
    let content: string;
    try {
      content = readFileSync(full, 'utf8').trim();
    } catch {
      continue;
    }
    if (boot !== undefined && content === boot) {
      if (!isProcessAlive(pid)) unlinkSafe(full);
      continue;
    }
    if (boot === undefined && content !== SYNC_FAILED && isProcessAlive(pid)) continue;
    stale.push({ path: full, content });
  }
  const mine = path.join(dir, `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
  const write = (content: string) => {
    writeFileSync(`${mine}.tmp`, content, { mode: 0o600 });
    fsyncPath(`${mine}.tmp`);
    renameSync(`${mine}.tmp`, mine);
    fsyncPath(dir);
  };
  write(boot ?? '');
  return {
    stale,
    /** A clean close: nothing this process showed is missing from the disk. */
    remove: () => unlinkSafe(mine),
    /** Keeps the marker past close, saying commits may have been lost. */
    markLost: () => write(SYNC_FAILED),
    /** Removes the stale markers, unless one changed since it was read. */
    clearStale() {
      for (const m of stale) {
        try {
          if (readFileSync(m.path, 'utf8').trim() === m.content) unlinkSync(m.path);
        } catch {}
      }
    },
  };
}

function unlinkSafe(file: string) {
  try {
    unlinkSync(file);
  } catch {}
}
