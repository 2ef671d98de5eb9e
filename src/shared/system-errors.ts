/**
 * Recognises the environment's failures by their codes — a database that cannot be reached or
 * written (better-sqlite3, pg), a full or read-only disk, no file descriptors left — without
 * importing a driver. shared/error-map.ts turns them into Plaza's codes; ops/disk.ts and the
 * files service ask them directly.
 */

interface SystemError {
  code?: unknown;
  message?: unknown;
}

const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

const codeOf = (err: unknown): string => {
  const code = (err as SystemError)?.code;
  return typeof code === 'string' ? code : '';
};

/**
 * True when the database could not be reached, is shutting down, or cannot write (SQLite reports
 * a read-only or failing disk as SQLITE_IOERR_WRITE, SQLITE_READONLY_*, or SQLITE_CANTOPEN when it
 * has no descriptor left): the client may retry.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as SystemError;
  const code = codeOf(err);
  if (PG_UNAVAILABLE.has(code) || NET_UNAVAILABLE.has(code) || code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN') {
    return true;
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) return true;
  const msg = String(e?.message ?? '');
  return /Connection terminated|timeout exceeded when trying to connect|driver has already been destroyed|not queryable/i.test(msg);
}

/** PostgreSQL class 22 (data exception: NUL in text, integer out of range…): the client's value. */
export function isInvalidDatabaseInput(err: unknown): boolean {
  const code = (err as SystemError)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/**
 * The disk under the uploads or the database is full (a file write's ENOSPC or EDQUOT, SQLite's
 * SQLITE_FULL, PostgreSQL's disk_full): nothing can be stored until space is freed.
 */
export function isStorageFull(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100';
}

/** Why files cannot be written or opened right now, if that is what `err` says; both pass. */
export function storageUnavailable(err: unknown): 'read-only' | 'no-descriptors' | undefined {
  const code = codeOf(err);
  if (code === 'EROFS') return 'read-only';
  if (code === 'EMFILE' || code === 'ENFILE') return 'no-descriptors';
  return undefined;
}
