import { describe, expect, it } from 'vitest';
import { mapError } from '../http/errors.js';

/** A driver or system error as thrown: only `code` (and for errno errors `syscall`) matters. */
const thrown = (code: string, syscall?: string) => Object.assign(new Error(`${code}: test`), { code, ...(syscall ? { syscall } : {}) });

/** Every way a disk or a database can refuse a write, and the answer a client gets for it. */
const ROWS: Array<[string, Error, number, string, boolean]> = [
  // [what, error, status, code, Retry-After]
  ['file write on a full disk', thrown('ENOSPC', 'write'), 507, 'STORAGE_FULL', false],
  ['file write past a disk quota', thrown('EDQUOT', 'write'), 507, 'STORAGE_FULL', false],
  ['SQLite on a full disk', thrown('SQLITE_FULL'), 507, 'STORAGE_FULL', false],
  ['PostgreSQL on a full disk', thrown('53100'), 507, 'STORAGE_FULL', false],
  ['file open on a read-only disk', thrown('EROFS', 'open'), 503, 'STORAGE_UNAVAILABLE', true],
  ['no descriptor left in the process', thrown('EMFILE', 'open'), 503, 'STORAGE_UNAVAILABLE', true],
  ['no descriptor left in the system', thrown('ENFILE', 'open'), 503, 'STORAGE_UNAVAILABLE', true],
  ['SQLite write on a read-only disk', thrown('SQLITE_IOERR_WRITE'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite sync refused', thrown('SQLITE_IOERR_FSYNC'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite I/O error', thrown('SQLITE_IOERR'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite read-only database', thrown('SQLITE_READONLY'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite database moved', thrown('SQLITE_READONLY_DBMOVED'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite cannot open a file', thrown('SQLITE_CANTOPEN'), 503, 'DATABASE_UNAVAILABLE', true],
  ['SQLite busy', thrown('SQLITE_BUSY'), 503, 'DATABASE_UNAVAILABLE', true],
  ['PostgreSQL shutting down', thrown('57P01'), 503, 'DATABASE_UNAVAILABLE', true],
  // Not the client's to retry, and nothing of them reaches it.
  ['a failing disk', thrown('EIO', 'read'), 500, 'INTERNAL', false],
  ['an SQL mistake', thrown('SQLITE_ERROR'), 500, 'INTERNAL', false],
];

describe('storage and database errors', () => {
  it.each(ROWS)('%s → %i %s', (_what, err, status, code, retry) => {
    const m = mapError(err);
    expect([m.status, m.code]).toEqual([status, code]);
    expect(m.retryAfter !== undefined).toBe(retry);
    expect(m.message).not.toContain(err.message);
  });
});
