import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { type AuditContext, type AuditSink, failureCode } from '../shared/audit-events.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { hashToken, randomId, randomToken } from '../shared/ids.js';
import * as files from './files.repository.js';
import { type FileInfo, type FilesService, toFileInfo } from './files.service.js';
import * as shares from './shares.repository.js';
import { createDownloadWindows, type SentBody } from './download-windows.js';

export const MAX_SHARE_SECONDS = 365 * 86400;

export interface ShareInfo {
  id: string;
  fileId: string;
  createdAt: number;
  expiresAt: number;
  maxDownloads: number | null;
  downloads: number;
  revoked: boolean;
  active: boolean;
}

export type SharesService = ReturnType<typeof createSharesService>;

/** Share links: anyone holding the token downloads the file until the link expires, is used up or revoked. */
export function createSharesService({ database, filesService, clock, audit }: { database: Database; filesService: FilesService; clock: Clock; audit: AuditSink }) {
  const db = database.db;
  const windows = createDownloadWindows();
  const gone = () => new AppError('NOT_FOUND', 'This link does not exist, has expired or was revoked');

  function info(row: shares.ShareRow, now: number): ShareInfo {
    const usedUp = row.max_downloads !== null && row.downloads >= row.max_downloads;
    return {
      id: row.id,
      fileId: row.file_id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      maxDownloads: row.max_downloads,
      downloads: row.downloads,
      revoked: row.revoked_at !== null,
      active: row.revoked_at === null && row.expires_at > now && !usedUp,
    };
  }

  async function create(viewer: User, fileId: string, opts: { expiresInSeconds?: number; maxDownloads?: number | null }, ctx?: AuditContext) {
    const event = { action: 'share.create', actor: viewer, ip: ctx?.ip, target: `file:${fileId.slice(0, 64)}` } as const;
    try {
      const made = await createShare(viewer, fileId, opts);
      audit.record({ ...event, outcome: 'success', detail: { shareId: made.share.id, expiresAt: made.share.expiresAt, maxDownloads: made.share.maxDownloads } });
      return made;
    } catch (err) {
      audit.record({ ...event, outcome: 'failure', detail: { code: failureCode(err) } });
      throw err;
    }
  }

  async function createShare(viewer: User, fileId: string, opts: { expiresInSeconds?: number; maxDownloads?: number | null }) {
    const file = await filesService.getVisible(viewer, fileId);
    const seconds = opts.expiresInSeconds ?? 7 * 86400;
    if (seconds < 60 || seconds > MAX_SHARE_SECONDS) {
      throw new AppError('VALIDATION_FAILED', `expiresInSeconds must be between 60 and ${MAX_SHARE_SECONDS}`);
    }
    const token = randomToken(24);
    const now = clock.now();
    const row: shares.ShareRow = {
      id: randomId('shr'),
      file_id: file.id,
      owner_id: viewer.id,
      token_hash: hashToken(token),
      created_at: now,
      expires_at: now + seconds * 1000,
      max_downloads: opts.maxDownloads ?? null,
      downloads: 0,
      revoked_at: null,
    };
    await shares.insertShare(db, row);
    return { share: info(row, now), token };
  }

  async function list(viewer: User, fileId: string): Promise<ShareInfo[]> {
    const file = await filesService.getVisible(viewer, fileId);
    const now = clock.now();
    return (await shares.listSharesOfFile(db, file.id)).map((r) => info(r, now));
  }

  async function revoke(viewer: User, shareId: string): Promise<void> {
    const row = shareId.length <= 64 ? await shares.findShareById(db, shareId) : undefined;
    if (!row) throw new AppError('NOT_FOUND', 'No such link');
    await filesService.getVisible(viewer, row.file_id).catch(() => {
      throw new AppError('NOT_FOUND', 'No such link');
    });
    await shares.revokeShare(db, row.id, clock.now());
  }

  /**
   * The live link behind a token and its file. A used-up link is as gone as a revoked one, except
   * to a client still inside the download it spent.
   */
  async function open(token: string, client: string): Promise<{ shareId: string; file: FileInfo }> {
    if (token.length === 0 || token.length > 100) throw gone();
    const now = clock.now();
    const row = await shares.findLiveShare(db, hashToken(token), now);
    if (!row) throw gone();
    const usedUp = row.max_downloads !== null && row.downloads >= row.max_downloads;
    if (usedUp && !windows.isOpen(row.id, client, now)) throw gone();
    const file = await files.findFileById(db, row.file_id);
    if (!file) throw gone();
    return { shareId: row.id, file: toFileInfo(file) };
  }

  /**
   * Lets `client` receive `length` bytes of a link's file, spending a download unless they fit in
   * the client's open download (see DownloadWindows). The returned function learns how the body
   * ended, so bytes a cut connection never delivered can be fetched again.
   */
  async function admit(shareId: string, client: string, length: number, size: number): Promise<(sent: SentBody) => void> {
    const now = clock.now();
    const w = await windows.charge(shareId, client, length, size, now, async () => {
      if (!(await shares.countShareDownload(db, shareId, now))) throw gone();
    });
    return (sent) => windows.settle(w, length, sent, clock.now());
  }

  return { create, list, revoke, open, admit };
}
