import type { Readable } from 'node:stream';
import type { User } from '../accounts/model.js';
import { lockUser } from '../accounts/users.repository.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import { type Category, classify, extensionOf } from './categories.js';
import { type FileInfo, toFileInfo } from './file-info.js';
import * as files from './files.repository.js';
import type { FilesDeps } from './files.service.js';
import { cleanOriginalName } from './names.js';
import type { Received } from './storage.js';

/**
 * The files service's uploads and quotas. Every upload form (multipart, raw body, tus) ends in
 * `finalize`: classify by extension and magic bytes, check the quota, move the fsync'd file into
 * place, then write the row — a crash at any point leaves nothing partial listed.
 */
export function createUploads({ database, storage, config, clock }: Omit<FilesDeps, 'disk'>) {
  const db = database.db;

  async function quotaOf(userId: number): Promise<number> {
    return (await files.quotaOverride(db, userId)) ?? config.userQuotaBytes;
  }

  async function usage(user: Pick<User, 'id'>): Promise<{ usedBytes: number; quotaBytes: number; maxUploadBytes: number }> {
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
        // Serialises concurrent uploads of one user on PostgreSQL (SQLite transactions already are).
        if (database.dialect === 'postgres') await lockUser(trx, owner.id);
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

  return { usage, uploadLimit, finalize, upload };
}
