import { randomBytes } from 'node:crypto';
import { open, stat, statfs, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isStorageFull, storageUnavailable } from '../db/errors.js';

export type DiskState = 'ok' | 'full' | 'read-only' | 'unavailable';

export type DiskGuard = ReturnType<typeof createDiskGuard>;

/** What the probe writes: more than one SQLite commit needs, so "it fits" means writes work. */
const PROBE_BYTES = 64 * 1024;

/**
 * The data directory's disk: whether it takes writes (for health) and a reserve for the writes
 * that free space. A full disk also refuses the database write a delete needs (SQLite appends the
 * deletion to its WAL: 5 pages, ~20 KiB per file row here), so users could never free space. The
 * reserve is a file of `reserveBytes` kept in the data dir; a write that frees space and fails
 * for lack of it gives the reserve up and tries once more. The reserve is rebuilt whole once the
 * disk has twice its size free; before that, a delete's freed bytes go back into it first.
 */
export function createDiskGuard(dir: string, reserveBytes: number) {
  const reservePath = path.join(dir, '.disk-reserve');
  let refilling: Promise<boolean> | undefined;

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

  /** Whether the disk takes writes now: a small write in the data dir fails as the next real one would. */
  async function probe(): Promise<DiskState> {
    const file = path.join(dir, `.disk-probe-${randomBytes(6).toString('hex')}`);
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.write(Buffer.alloc(PROBE_BYTES));
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isStorageFull(err)) return 'full';
      return storageUnavailable(err) === 'read-only' ? 'read-only' : 'unavailable';
    } finally {
      await unlink(file).catch(() => {});
    }
    // A disk that took the write but has no room to rebuild the reserve is still full.
    return (await refill()) ? 'ok' : 'full';
  }

  return { refill, withReserve, probe, reservePath };
}
