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

/** True when the database could not be reached or is shutting down: the client may retry. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as DriverError;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (PG_UNAVAILABLE.has(code) || NET_UNAVAILABLE.has(code) || code === 'SQLITE_BUSY' || code === 'SQLITE_IOERR') {
    return true;
  }
  const msg = String(e?.message ?? '');
  return /Connection terminated|timeout exceeded when trying to connect|driver has already been destroyed/i.test(msg);
}

/** PostgreSQL class 22 (data exception: NUL in text, integer out of range…): the client's value. */
export function isInvalidDatabaseInput(err: unknown): boolean {
  const code = (err as DriverError)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
