import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { isProcessAlive } from '../shared/processes.js';

/**
 * Deletion holds: while a backup runs — in this process or another one on the same data dir
 * (`plaza backup` beside `plaza serve`) — a deleted file's bytes are moved to `uploads/.deleted/`
 * instead of being unlinked, so a backup whose snapshot still lists the file can archive it.
 *
 * The order makes it safe without any lock: a backup creates its hold before its snapshot starts,
 * and a delete checks for holds only after its row is gone. A delete that saw no hold therefore
 * committed before the snapshot began, and the snapshot does not list that file.
 * A hold is `uploads/.holds/<host>-<pid>-<random>`; one of a process of this host that is gone
 * (killed mid-backup) is stale and removed when seen.
 */
export function createDeletionHolds(root: string) {
  const holdsDir = path.join(root, '.holds');
  const keptDir = path.join(root, '.deleted');
  const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_');

  async function active(): Promise<boolean> {
    const names = await readdir(holdsDir).catch(() => [] as string[]);
    let live = false;
    for (const name of names) {
      const [holder, pid] = name.split('-');
      if (holder === host && !isProcessAlive(Number(pid))) await unlink(path.join(holdsDir, name)).catch(() => {});
      else live = true;
    }
    return live;
  }

  /** Keeps deleted bytes until the returned release is called. */
  async function hold(): Promise<() => Promise<void>> {
    await mkdir(holdsDir, { recursive: true, mode: 0o700 });
    const file = path.join(holdsDir, `${host}-${process.pid}-${randomBytes(6).toString('hex')}`);
    await writeFile(file, '', { flag: 'wx', mode: 0o600 });
    return async () => {
      await unlink(file).catch(() => {});
      await purge();
    };
  }

  const keptPath = (category: string, storedName: string) => path.join(keptDir, `${category}.${storedName}`);

  /** A delete's last step: unlink the bytes, or keep them while a backup may still want them. */
  async function dispose(file: string, category: string, storedName: string): Promise<void> {
    const ignoreMissing = (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    };
    if (!(await active())) return unlink(file).catch(ignoreMissing);
    await mkdir(keptDir, { recursive: true, mode: 0o700 });
    await rename(file, keptPath(category, storedName)).catch(ignoreMissing);
  }

  /**
   * Removes kept bytes once no backup holds them. The entries are listed before the holds are
   * checked: each was kept before that check, so before any backup that started after it.
   */
  async function purge(): Promise<void> {
    const kept = await readdir(keptDir).catch(() => [] as string[]);
    if (kept.length === 0 || (await active())) return;
    await Promise.all(kept.map((n) => rm(path.join(keptDir, n), { force: true })));
  }

  return { active, hold, keptPath, dispose, purge };
}
