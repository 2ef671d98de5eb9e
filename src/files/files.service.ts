import type { Readable } from 'node:stream';
import type { User } from '../accounts/model.js';
import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import { isStorageFull } from '../shared/system-errors.js';
import type { DiskGuard } from '../ops/disk.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import { type Category, classify, extensionOf } from './categories.js';
import * as files from './files.repository.js';
import { cleanOriginalName, isStoredName } from './names.js';
import type { Received, Storage } from './storage.js';

export interface FileInfo {
  id: string;
  ownerId: number;
  name: string;
  storedName: string;
  category: Category;
  size: number;
  sha256: string;
  mime: string;
  createdAt: number;
  updatedAt: number;
}

export function toFileInfo(row: files.FileRow): FileInfo {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.original_name,
    storedName: row.stored_name,
    category: row.category,
    size: row.size,
    sha256: row.sha256,
    mime: row.mime,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface FilesDeps {
  database: Database;
  storage: Storage;
  /** Deletes on a full disk use its reserve. */
  disk: Pick<DiskGuard, 'withReserve' | 'refill'>;
  config: Pick<Config, 'maxUploadBytes' | 'userQuotaBytes'>;
  clock: Clock;
}

export interface ListOptions {
  category?: Category | undefined;
  sort?: 'created_at' | 'original_name' | 'size' | undefined;
  order?: 'asc' | 'desc' | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

export type FilesService = ReturnType<typeof createFilesService>;

/**
 * Uploads, listing, renaming, deletion and quotas. Every upload form (multipart, raw body, tus)
 * ends in `finalize`: classify by extension and magic bytes, check the quota, move the fsync'd
 * file into place, then write the row — a crash at any point leaves nothing partial listed.
 */
export function createFilesService({ database, storage, config, clock, disk }: FilesDeps) {
  const db = database.db;
  const notFound = () => new AppError('NOT_FOUND', 'No such file');

  async function quotaOf(userId: number): Promise<number> {
    return (await files.quotaOverride(db, userId)) ?? config.userQuotaBytes;
  }

  async function usage(user: User): Promise<{ usedBytes: number; quotaBytes: number; maxUploadBytes: number }> {
    return { usedBytes: await files.usageOf(db, user.id), quotaBytes: await quotaOf(user.id), maxUploadBytes: config.maxUploadBytes };
  }

  const quotaError = () => new AppError('QUOTA_EXCEEDED', 'This upload would exceed your storage quota');
  const tooLarge = () =>
    new AppError('FILE_TOO_LARGE', `File is larger than the upload limit of ${config.maxUploadBytes} bytes`);

  /** The most an upload by `user` may hold now, and the error for going past it. */
  /** `reservedBytes`: space promised to the user's unfinished resumable uploads. */
  async function uploadLimit(user: User, declaredSize?: number, reservedBytes = 0) {
    const room = Math.max(0, (await quotaOf(user.id)) - (await files.usageOf(db, user.id)) - reservedBytes);
    if (declaredSize !== undefined) {
      if (declaredSize > config.maxUploadBytes) throw tooLarge();
      if (declaredSize > room) throw quotaError();
    }
    const limit = Math.min(config.maxUploadBytes, room);
    return { limit, tooLarge: room < config.maxUploadBytes ? quotaError : tooLarge };
  }

  /** Turns a complete received file into a stored, listed file owned by `owner`. */
  async function finalize(owner: User, received: Received, originalName: string): Promise<FileInfo> {
    let storedName: string | undefined;
    let category: Category = 'files';
    try {
      const name = cleanOriginalName(originalName);
      const kind = await classify(name, received.head);
      category = kind.category;
      storedName = await storage.commit(received, category, extensionOf(name));
      const now = clock.now();
      const row: files.FileRow = {
        id: randomId('fil'),
        owner_id: owner.id,
        original_name: name,
        stored_name: storedName,
        category,
        size: received.size,
        sha256: received.sha256,
        mime: kind.mime,
        created_at: now,
        updated_at: now,
      };
      const quota = await quotaOf(owner.id);
      await db.transaction().execute(async (trx) => {
        if (database.dialect === 'postgres') await files.lockUser(trx, owner.id);
        if ((await files.usageOf(trx, owner.id)) + row.size > quota) throw quotaError();
        await files.insertFile(trx, row);
      });
      return toFileInfo(row);
    } catch (err) {
      if (storedName) await storage.remove(category, storedName).catch(() => {});
      else await storage.discard(received);
      throw err;
    }
  }

  /** Streams one upload to disk and finalizes it. `declaredSize` (if known) is checked first. */
  async function upload(owner: User, source: Readable, originalName: string, declaredSize?: number): Promise<FileInfo> {
    cleanOriginalName(originalName);
    const limit = await uploadLimit(owner, declaredSize);
    const received = await storage.receive(source, limit);
    if (declaredSize !== undefined && received.size !== declaredSize) {
      await storage.discard(received);
      throw new AppError('UPLOAD_INCOMPLETE', `Received ${received.size} bytes but ${declaredSize} were announced`);
    }
    return finalize(owner, received, originalName);
  }

  function canSee(viewer: User, row: files.FileRow): boolean {
    return viewer.role === 'admin' || row.owner_id === viewer.id;
  }

  async function getVisible(viewer: User, id: string): Promise<FileInfo> {
    const row = id.length <= 64 ? await files.findFileById(db, id) : undefined;
    if (!row || !canSee(viewer, row)) throw notFound();
    return toFileInfo(row);
  }

  /**
   * Other features may grant reading (never renaming or deleting) a file: chat lets the members of
   * a room read the files shared into it. Registered once at wiring time.
   */
  const readGrants: Array<(fileId: string, userId: number) => Promise<boolean>> = [];

  /** A file the viewer may download: their own (or any, for admins), or one granted to them. */
  async function getReadable(viewer: User, id: string): Promise<FileInfo> {
    const row = id.length <= 64 ? await files.findFileById(db, id) : undefined;
    if (!row) throw notFound();
    if (canSee(viewer, row)) return toFileInfo(row);
    for (const grant of readGrants) if (await grant(row.id, viewer.id)) return toFileInfo(row);
    throw notFound();
  }

  /** A file the viewer may see, by original or stored name (seed routes name files, not ids). */
  async function findVisibleByName(viewer: User, name: string, category?: Category): Promise<FileInfo> {
    if (name.length === 0 || name.length > 1024 || name.includes('\u0000')) throw notFound();
    const rows = await files.findFilesByName(db, name, viewer.role === 'admin' ? undefined : viewer.id, category);
    // The caller's own file wins over another user's file of the same name (admins).
    const row = rows.find((r) => r.owner_id === viewer.id) ?? rows[0];
    if (!row) throw notFound();
    return toFileInfo(row);
  }

  /** A file by its stored name (seed 004 addresses files that way): unique, never an original name. */
  async function findVisibleByStoredName(viewer: User, storedName: string): Promise<FileInfo> {
    if (!isStoredName(storedName)) throw notFound();
    const row = await files.findFileByStoredName(db, storedName);
    if (!row || !canSee(viewer, row)) throw notFound();
    return toFileInfo(row);
  }

  async function list(viewer: User, opts: ListOptions = {}): Promise<{ files: FileInfo[]; total: number }> {
    const { rows, total } = await files.listFiles(db, {
      ...(viewer.role === 'admin' ? {} : { ownerId: viewer.id }),
      ...(opts.category ? { category: opts.category } : {}),
      sort: opts.sort ?? 'created_at',
      order: opts.order ?? 'desc',
      limit: opts.limit ?? 100,
      offset: opts.offset ?? 0,
    });
    return { files: rows.map(toFileInfo), total };
  }

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
    usage,
    uploadLimit,
    finalize,
    upload,
    getVisible,
    getReadable,
    grantReads: (grant: (fileId: string, userId: number) => Promise<boolean>) => void readGrants.push(grant),
    findVisibleByName,
    findVisibleByStoredName,
    list,
    rename,
    remove,
    setQuota,
    open,
    sweepOrphans,
  };
}
