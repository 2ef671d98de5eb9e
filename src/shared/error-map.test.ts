import { describe, expect, it } from 'vitest';
import { mapError } from '../http/errors.js';
import { describeFailure, FAULT_MESSAGE, logFailure } from './error-map.js';
import { AppError } from './errors.js';

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
  ['PostgreSQL refusing connections', thrown('ECONNREFUSED', 'connect'), 503, 'DATABASE_UNAVAILABLE', true],
  // pg's words for a query on a client whose server went away (no code).
  ['a pg client that lost its server', new Error('Client has encountered a connection error and is not queryable'), 503, 'DATABASE_UNAVAILABLE', true],
  // Not the client's to retry, and nothing of them reaches it.
  ['a failing disk', thrown('EIO', 'read'), 500, 'INTERNAL', false],
  ['an SQL mistake', thrown('SQLITE_ERROR'), 500, 'INTERNAL', false],
];

describe('storage and database errors', () => {
  it.each(ROWS)('%s → %i %s', (_what, err, status, code, retry) => {
    for (const m of [describeFailure(err), mapError(err)]) {
      expect([m.status, m.code]).toEqual([status, code]);
      expect(m.retryAfter !== undefined).toBe(retry);
      expect(m.message).not.toContain(err.message);
      expect(m.kind).toBe(status === 500 ? 'fault' : 'unavailable');
    }
  });
});

describe('the one error rule', () => {
  const logged = () => {
    const lines: Array<[string, string]> = [];
    return { lines, log: { error: (_o: object, m: string) => lines.push(['error', m]), warn: (_o: object, m: string) => lines.push(['warn', m]) } };
  };
  const CASES: Array<[string, unknown, string, string, string]> = [
    // [what, thrown, code, kind, logged as]
    ['a client refusal', new AppError('QUOTA_EXCEEDED', 'Your quota is full'), 'QUOTA_EXCEEDED', 'client', 'nothing'],
    ['a login flood', new AppError('SERVER_BUSY', 'Too many logins at once', { retryAfter: 1 }), 'SERVER_BUSY', 'unavailable', 'warn'],
    ['a full disk', thrown('ENOSPC', 'write'), 'STORAGE_FULL', 'unavailable', 'warn'],
    ['the database found down', thrown('ECONNREFUSED', 'connect'), 'DATABASE_UNAVAILABLE', 'unavailable', 'warn'],
    // Logged once by the server when the gate closed: not again for each request it refuses.
    ['a request refused at the closed database gate', new AppError('DATABASE_UNAVAILABLE', 'down', { reported: true }), 'DATABASE_UNAVAILABLE', 'unavailable', 'nothing'],
    ['a bug', new TypeError('x is undefined'), 'INTERNAL', 'fault', 'error'],
    ['an INTERNAL raised with a detail', new AppError('INTERNAL', 'secret path /data/x'), 'INTERNAL', 'fault', 'error'],
  ];
  it.each(CASES)('%s: %s, %s, logged as %s', (_what, err, code, kind, level) => {
    const f = describeFailure(err);
    expect([f.code, f.kind]).toEqual([code, kind]);
    if (kind === 'fault') expect(f.message).toBe(FAULT_MESSAGE);
    if (kind === 'client') expect(f.message).toBe((err as Error).message);
    const { lines, log } = logged();
    logFailure(log, err, f, 'it failed');
    expect(lines).toEqual(level === 'nothing' ? [] : [[level, 'it failed']]);
  });

  it('keeps the retry hint a refusal carries, else the code\'s own', () => {
    expect(describeFailure(new AppError('SERVER_BUSY', 'busy', { retryAfter: 1 })).retryAfter).toBe(1);
    expect(describeFailure(new AppError('DATABASE_UNAVAILABLE', 'down')).retryAfter).toBe(2);
    expect(describeFailure(new AppError('NOT_FOUND', 'gone')).retryAfter).toBeUndefined();
  });
});
