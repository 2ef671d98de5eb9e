import type { User } from '../accounts/model.js';
import { findUserById } from '../accounts/users.repository.js';
import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import { isStorageFull } from '../shared/system-errors.js';
import type { DiskGuard } from '../ops/disk.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { createFileAccess } from './file-access.js';
import type { FileInfo } from './file-info.js';
import * as files from './files.repository.js';
import { cleanOriginalName } from './names.js';
import type { Storage } from './storage.js';
import { createUploads } from './uploads.js';

export { type FileInfo, toFileInfo } from './file-info.js';

export interface FilesDeps {
  database: Database;
  storage: Storage;
  /** Deletes on a full disk use its reserve. */
  disk: Pick<DiskGuard, 'withReserve' | 'refill'>;
  config: Pick<Config, 'maxUploadBytes' | 'userQuotaBytes'>;
  clock: Clock;
}

export type { ListOptions } from './file-access.js';

export type FilesService = ReturnType<typeof createFilesService>;

/**
 * Uploads, listing, renaming, deletion and quotas. Uploads and quotas are in uploads.ts, who may
 * see which file in file-access.ts; this composes them with renaming, deletion and the sweep.
 */
export function createFilesService({ database, storage, config, clock, disk }: FilesDeps) {
  const db = database.db;
  const notFound = () => new AppError('NOT_FOUND', 'No such file');

  const uploads = createUploads({ database, storage, config, clock });
  const access = createFileAccess(database);
  const { getVisible } = access;

  async function rename(viewer: User, id: string, newName: string): Promise<FileInfo> {
    const file = await getVisible(viewer, id);
    await files.renameFile(db, file.id, cleanOriginalName(newName), clock.now());
    return getVisible(viewer, id);
  }

  /**
   * Deletes the row first (so it is never listed without its bytes), then the bytes. On a full
   * disk the row's deletion still needs room (SQLite's WAL): the disk reserve gives it. When the
   * reserve is already spent, the file's own bytes go first to make that room; until the row is
   * gone the file reads as missing, and a retry of the delete finishes it.
   */
  async function remove(viewer: User, id: string): Promise<void> {
    const file = await getVisible(viewer, id);
    const deleteRow = () => files.deleteFile(db, file.id);
    let deleted: boolean;
    try {
      deleted = await disk.withReserve(deleteRow);
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      await storage.remove(file.category, file.storedName);
      deleted = await deleteRow();
    }
    if (!deleted) throw notFound();
    await storage.remove(file.category, file.storedName);
    // The freed bytes may be what a given-up reserve needs to come back: take them before anyone
    // else can (the reserve is what lets the next delete on a full disk through).
    await disk.refill();
  }

  /** Someone's storage use and quota: their own, or anyone's for an admin (the users table shows them). */
  async function usageOfUser(viewer: User, userId: number) {
    if (viewer.role !== 'admin' && viewer.id !== userId) throw new AppError('FORBIDDEN', "Only an admin can see another user's storage");
    if (!(await findUserById(db, userId))) throw new AppError('NOT_FOUND', 'No such user');
    return uploads.usage({ id: userId });
  }

  async function setQuota(admin: User, userId: number, bytes: number | null): Promise<void> {
    if (admin.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin can set quotas');
    if (!(await files.setQuotaOverride(db, userId, bytes))) throw new AppError('NOT_FOUND', 'No such user');
  }

  /**
   * Removes bytes no row points at: left by a crash between rename and insert, or between a row's
   * deletion and its unlink. Only files older than `minAgeMs` are considered, so an upload being
   * finalised right now is never touched.
   */
  async function sweepOrphans(minAgeMs = 3600_000): Promise<number> {
    const candidates = await storage.listOlderThan(clock.now() - minAgeMs);
    let removed = 0;
    for (let i = 0; i < candidates.length; i += 500) {
      const batch = candidates.slice(i, i + 500);
      const known = await files.existingStoredNames(db, batch.map((c) => c.storedName));
      for (const c of batch) {
        if (known.has(c.storedName)) continue;
        await storage.remove(c.category, c.storedName);
        removed++;
      }
    }
    return removed;
  }

  function open(file: FileInfo) {
    return storage.openForRead(file.category, file.storedName);
  }

  return {
    usage: uploads.usage,
    usageOfUser,
    uploadLimit: uploads.uploadLimit,
    finalize: uploads.finalize,
    upload: uploads.upload,
    getVisible,
    getReadable: access.getReadable,
    grantReads: access.grantReads,
    findVisibleByName: access.findVisibleByName,
    findVisibleByStoredName: access.findVisibleByStoredName,
    list: access.list,
    rename,
    remove,
    setQuota,
    open,
    sweepOrphans,
  };
}
