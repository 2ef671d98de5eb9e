/** Recognises driver errors from better-sqlite3 and pg without importing either. */

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/** The `table.column` (or constraint) a unique violation was about, or undefined. */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as DriverError;
  if (e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const m = /UNIQUE constraint failed: ([\w.]+)/.exec(String(e.message));
    return m?.[1] ?? 'unknown';
  }
  if (e?.code === '23505') {
    // pg names unique constraints <table>_<column>_key.
    const c = String(e.constraint ?? '');
    const m = /^(\w+?)_(\w+)_key$/.exec(c);
    return m ? `${m[1]}.${m[2]}` : c;
  }
  return undefined;
}

const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

const codeOf = (err: unknown): string => {
  const code = (err as DriverError)?.code;
  return typeof code === 'string' ? code : '';
};

/**
 * True when the database could not be reached, is shutting down, or cannot write (SQLite reports
 * a read-only or failing disk as SQLITE_IOERR_WRITE, SQLITE_READONLY_*, or SQLITE_CANTOPEN when it
 * has no descriptor left): the client may retry.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as DriverError;
  const code = codeOf(err);
  if (PG_UNAVAILABLE.has(code) || NET_UNAVAILABLE.has(code) || code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN') {
    return true;
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) return true;
  const msg = String(e?.message ?? '');
  return /Connection terminated|timeout exceeded when trying to connect|driver has already been destroyed/i.test(msg);
}

/** PostgreSQL class 22 (data exception: NUL in text, integer out of range…): the client's value. */
export function isInvalidDatabaseInput(err: unknown): boolean {
  const code = (err as DriverError)?.code;
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
