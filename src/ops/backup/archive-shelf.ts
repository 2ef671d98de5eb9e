import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath } from '../../shared/durable.js';
import { AppError } from '../../shared/errors.js';
import { archiveDate, archiveName, isArchiveName } from './backup-format.js';

export interface ArchiveInfo {
  name: string;
  size: number;
  createdAt: string;
}

/**
 * The folder of finished archives (data/backups): timestamped names taken without replacing one,
 * listing newest first, lookup by name (never a path), deletion, and retention of the newest `keep`.
 */
export function createArchiveShelf(defaultDir: string, keep: number) {
  /** Renames the finished archive to its timestamped name (a later millisecond if one is taken). */
  async function placeArchive(partial: string, dir: string, at: Date, label?: string): Promise<string> {
    for (let i = 0; i < 1000; i++) {
      const name = archiveName(new Date(at.getTime() + i), label);
      const target = path.join(dir, name);
      // Reserve the name first: rename would replace an archive already there.
      const reserved = await open(target, 'wx', 0o600).then((fh) => fh.close().then(() => true), () => false);
      if (!reserved) continue;
      await rename(partial, target);
      fsyncPath(dir);
      return name;
    }
    throw new Error('No free archive name');
  }

  /** Archives in data/backups (or `dir`), newest first. */
  async function list(dir = defaultDir): Promise<ArchiveInfo[]> {
    const names = (await readdir(dir).catch(() => [] as string[])).filter(isArchiveName);
    const infos = await Promise.all(
      names.map(async (name) => {
        const st = await stat(path.join(dir, name)).catch(() => undefined);
        return st?.isFile() ? { name, size: st.size, createdAt: archiveDate(name)?.toISOString() ?? '' } : undefined;
      }),
    );
    return infos.filter((i): i is ArchiveInfo => i !== undefined).sort((a, b) => (a.name < b.name ? 1 : -1));
  }

  /** The path of archive `name` in data/backups; names are never paths (isArchiveName). */
  async function find(name: string): Promise<string> {
    if (!isArchiveName(name)) throw new AppError('VALIDATION_FAILED', 'Not an archive name (plaza-backup-<UTC time>.tar)');
    const file = path.join(defaultDir, name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new AppError('NOT_FOUND', `No backup named ${name}`);
    return file;
  }

  async function remove(name: string): Promise<void> {
    await unlink(await find(name));
    fsyncPath(defaultDir);
  }

  /** Keeps the newest `keep` regular archives (labelled ones, such as safety backups, stay). */
  async function prune(): Promise<string[]> {
    if (keep <= 0) return [];
    const regular = (await list()).filter((a) => /^plaza-backup-\d{8}T\d{9}Z\.tar$/.test(a.name));
    const old = regular.slice(keep).map((a) => a.name);
    for (const name of old) await unlink(path.join(defaultDir, name)).catch(() => {});
    return old;
  }

  return { placeArchive, list, find, remove, prune };
}
