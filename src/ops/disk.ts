import { randomBytes } from 'node:crypto';
import { constants, open, readdir, stat, statfs, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isStorageFull, storageUnavailable } from '../shared/system-errors.js';
import { type Clock, systemClock } from '../shared/clock.js';

export type DiskState = 'ok' | 'full' | 'read-only' | 'unavailable';

export type DiskGuard = ReturnType<typeof createDiskGuard>;

/** What the probe writes: more than one SQLite commit needs, so "it fits" means writes work. */
const PROBE_BYTES = 64 * 1024;
/**
 * How long a probe's answer stands. Health is unauthenticated and asked by anyone, as often as
 * they like: it must not cost a disk write each time, nor take space on a nearly full disk.
 */
export const PROBE_CACHE_MS = 1000;
/** A probe file this old was left by a process that died mid-probe. */
const STALE_PROBE_MS = 60_000;
const PROBE_PREFIX = '.disk-probe-';

/**
 * The data directory's disk: whether it takes writes (for health) and a reserve for the writes
 * that free space. A full disk also refuses the database write a delete needs (SQLite appends the
 * deletion to its WAL: 5 pages, ~20 KiB per file row here), so users could never free space. The
 * reserve is a file of `reserveBytes` kept in the data dir; a write that frees space and fails
 * for lack of it gives the reserve up and tries once more. The reserve is rebuilt whole once the
 * disk has twice its size free; before that, a delete's freed bytes go back into it first.
 */
export function createDiskGuard(dir: string, reserveBytes: number, clock: Clock = systemClock) {
  const reservePath = path.join(dir, '.disk-reserve');
  // One name per guard (so per process), random so no other process's probe or a leftover matches.
  const probePath = path.join(dir, `${PROBE_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  let refilling: Promise<boolean> | undefined;
  let probing: Promise<DiskState> | undefined;
  let lastProbe: { state: DiskState; at: number } | undefined;

  const reserveSize = () => stat(reservePath).then((s) => s.size, () => 0);

  async function grow(): Promise<boolean> {
    const have = await reserveSize();
    // A smaller (or no) reserve configured since: give the rest back.
    if (have > reserveBytes) await (reserveBytes === 0 ? unlink(reservePath) : truncate(reservePath, reserveBytes));
    if (have >= reserveBytes) return true;
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    // With room to spare the reserve is rebuilt whole. On a disk that is still nearly full it takes
    // what a delete just freed, up to its size, before other writes can: that is what lets the
    // next delete through once the reserve has been spent (a small file frees less than its
    // row's deletion needs).
    const target = free >= 2 * reserveBytes - have ? reserveBytes : Math.min(reserveBytes, have + Math.max(0, free - 4096));
    if (target <= have) return false;
    const fh = await open(reservePath, 'a', 0o600);
    try {
      // Random bytes: a compressing filesystem would store zeros in no space at all.
      for (let size = have; size < target; ) {
        const { bytesWritten } = await fh.write(randomBytes(Math.min(1024 * 1024, target - size)));
        size += bytesWritten;
      }
      await fh.sync();
      return target === reserveBytes;
    } catch {
      return false;
    } finally {
      await fh.close();
    }
  }

  /** Rebuilds the reserve if it was given up and there is room; true when it is whole. */
  function refill(): Promise<boolean> {
    refilling ??= grow()
      .catch(() => false)
      .finally(() => (refilling = undefined));
    return refilling;
  }

  /** Runs a write that frees space (a delete); on a full disk, gives the reserve up and retries once. */
  async function withReserve<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (reserveBytes === 0 || !isStorageFull(err) || (await reserveSize()) === 0) throw err;
      await truncate(reservePath, 0);
      return await write();
    }
  }

  /** One write in the data dir: it fails as the next real one would. */
  async function writeProbe(): Promise<DiskState> {
    try {
      // Reused by every probe (a file a failed unlink left is simply written again), never through a symlink.
      const fh = await open(probePath, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      try {
        await fh.write(Buffer.alloc(PROBE_BYTES));
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isStorageFull(err)) return 'full';
      return storageUnavailable(err) === 'read-only' ? 'read-only' : 'unavailable';
    } finally {
      await unlink(probePath).catch(() => {});
    }
    // A disk that took the write but has no room to rebuild the reserve is still full.
    return (await refill()) ? 'ok' : 'full';
  }

  /**
   * Whether the disk takes writes: the answer of a probe at most PROBE_CACHE_MS old. One probe
   * runs at a time; callers arriving while it runs share its answer.
   */
  function probe(): Promise<DiskState> {
    const age = lastProbe ? clock.now() - lastProbe.at : Infinity;
    // A negative age is a clock moved back: probe again.
    if (lastProbe && age >= 0 && age < PROBE_CACHE_MS) return Promise.resolve(lastProbe.state);
    probing ??= writeProbe()
      .then((state) => {
        lastProbe = { state, at: clock.now() };
        return state;
      })
      .finally(() => (probing = undefined));
    return probing;
  }

  /** Removes probe files left by a process that died mid-probe (at start; a live probe lasts milliseconds). */
  async function removeStaleProbes(): Promise<number> {
    let removed = 0;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(PROBE_PREFIX)) continue;
      const file = path.join(dir, name);
      const s = await stat(file).catch(() => undefined);
      if (!s?.isFile() || Date.now() - s.mtimeMs < STALE_PROBE_MS) continue;
      if (await unlink(file).then(() => true, () => false)) removed++;
    }
    return removed;
  }

  return { refill, withReserve, probe, removeStaleProbes, reservePath };
}
