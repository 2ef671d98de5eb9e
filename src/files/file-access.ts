import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { AppError } from '../shared/errors.js';
import type { Category } from './categories.js';
import { type FileInfo, toFileInfo } from './file-info.js';
import * as files from './files.repository.js';
import { decodeCursor, encodeCursor } from './list-cursor.js';
import { isStoredName } from './names.js';

export interface ListOptions {
  category?: Category | undefined;
  sort?: 'created_at' | 'original_name' | 'size' | undefined;
  order?: 'asc' | 'desc' | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
  cursor?: string | undefined;
}

/** Who may see or read which file: the files service's lookups and listing. */
export function createFileAccess(database: Database) {
  const db = database.db;
  const notFound = () => new AppError('NOT_FOUND', 'No such file');

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

  async function list(viewer: User, opts: ListOptions = {}): Promise<{ files: FileInfo[]; total: number; nextCursor: string | null }> {
    const sort = opts.sort ?? 'created_at';
    const order = opts.order ?? 'desc';
    const limit = opts.limit ?? 100;
    if (opts.cursor !== undefined && (opts.offset ?? 0) > 0) {
      throw new AppError('VALIDATION_FAILED', 'Use either cursor or offset, not both');
    }
    const { rows, total } = await files.listFiles(db, {
      ...(viewer.role === 'admin' ? {} : { ownerId: viewer.id }),
      ...(opts.category ? { category: opts.category } : {}),
      sort,
      order,
      limit,
      offset: opts.offset ?? 0,
      after: opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, sort, order),
    });
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return { files: rows.map(toFileInfo), total, nextCursor: last ? encodeCursor(sort, order, last) : null };
  }

  return {
    getVisible,
    getReadable,
    grantReads: (grant: (fileId: string, userId: number) => Promise<boolean>) => void readGrants.push(grant),
    findVisibleByName,
    findVisibleByStoredName,
    list,
  };
}
