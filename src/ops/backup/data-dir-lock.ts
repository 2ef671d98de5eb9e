import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { isProcessAlive } from '../../shared/processes.js';

/**
 * Who is using a data dir. Each running server leaves `.serving-<host>-<pid>` in it until it
 * stops; a restore holds `.restore.lock` (its host and pid). A server refuses to start while a
 * restore runs, and a restore refuses while a server runs; each writes its own mark before it
 * looks for the other's, so two starting at once cannot both go ahead. A mark of a process of
 * this host that is gone (kill -9) is stale and ignored; one from another host (a shared data dir)
 * is taken as live, since its process cannot be checked from here.
 */
const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_');
const SERVING = '.serving-';
const RESTORE_LOCK = '.restore.lock';

function alive(markHost: string, pid: number): boolean {
  if (markHost !== host) return true;
  return pid === process.pid || isProcessAlive(pid);
}

/**
 * Marks the data dir as served by this process (and removes marks this host's killed servers
 * left); the returned function removes the mark.
 */
export function markServing(dataDir: string): () => void {
  for (const name of listDir(dataDir)) {
    const rest = name.startsWith(SERVING) ? name.slice(SERVING.length) : undefined;
    const dash = rest?.lastIndexOf('-') ?? -1;
    if (rest !== undefined && !alive(rest.slice(0, dash), Number(rest.slice(dash + 1)))) {
      try {
        unlinkSync(path.join(dataDir, name));
      } catch {}
    }
  }
  const file = path.join(dataDir, `${SERVING}${host}-${process.pid}`);
  closeSync(openSync(file, 'w', 0o600));
  return () => {
    try {
      unlinkSync(file);
    } catch {}
  };
}

/** Live servers on the data dir, as `host pid N`. */
function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function runningServers(dataDir: string): string[] {
  return listDir(dataDir)
    .filter((n) => n.startsWith(SERVING))
    .map((n) => n.slice(SERVING.length))
    .filter((rest) => {
      const dash = rest.lastIndexOf('-');
      return alive(rest.slice(0, dash), Number(rest.slice(dash + 1)));
    })
    .map((rest) => `${rest.slice(0, rest.lastIndexOf('-'))} pid ${rest.slice(rest.lastIndexOf('-') + 1)}`);
}

/** The live process holding the restore lock; a stale lock (its process is gone) is removed. */
function restoreHolder(dataDir: string): { host: string; pid: number } | undefined {
  const file = path.join(dataDir, RESTORE_LOCK);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [h = '', pid = ''] = text.trim().split(' ');
  if (alive(h, Number(pid))) return { host: h, pid: Number(pid) };
  try {
    unlinkSync(file);
  } catch {}
  return undefined;
}

/** Throws DATA_DIR_BUSY while another process restores into this data dir. */
export function assertNotRestoring(dataDir: string): void {
  const holder = restoreHolder(dataDir);
  if (holder && !(holder.host === host && holder.pid === process.pid)) {
    throw new AppError('DATA_DIR_BUSY', `A restore is running on ${dataDir} (${holder.host} pid ${holder.pid}); wait for it to finish`);
  }
}

/** Takes the data dir for a restore: no server may be running on it, nor another restore. */
export function lockForRestore(dataDir: string): () => void {
  const file = path.join(dataDir, RESTORE_LOCK);
  // Removes a stale lock on the way.
  assertNotRestoring(dataDir);
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch {
    throw new AppError('DATA_DIR_BUSY', `Another restore just started on ${dataDir}`);
  }
  writeSync(fd, `${host} ${process.pid}\n`);
  closeSync(fd);
  const release = () => {
    try {
      unlinkSync(file);
    } catch {}
  };
  const servers = runningServers(dataDir);
  if (servers.length > 0) {
    release();
    throw new AppError(
      'DATA_DIR_BUSY',
      `A Plaza server is running on ${dataDir} (${servers.join(', ')}). Stop it before restoring (a restore replaces the data under it)`,
    );
  }
  return release;
}
