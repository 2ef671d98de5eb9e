import { AppError, ERRORS, type ErrorCode, type ErrorKind } from './errors.js';
import { isDatabaseUnavailable, isInvalidDatabaseInput, isStorageFull, storageUnavailable } from './system-errors.js';

/**
 * The one error rule, for every transport: anything thrown becomes a `Failure` — Plaza's code,
 * its HTTP status, whether it is the client's (`client`), the server's condition (`unavailable`)
 * or a fault, the message a client may see, and a retry hint. A transport then only says it in its
 * own words (http/errors.ts: JSON; chat sockets: error frames; compat/: the seeds' strings) and
 * logs it with `logFailure`. Framework errors (Fastify's FST_*, Node's HPE_*) are HTTP's own and
 * are recognised in http/errors.ts before this.
 */
export interface Failure {
  code: ErrorCode;
  status: number;
  kind: ErrorKind;
  /** Client-safe: a fault's message is the generic FAULT_MESSAGE, never the error's own text. */
  message: string;
  retryAfter?: number | undefined;
}

export const FAULT_MESSAGE = 'Internal server error';

/** Plaza's failure for `err`: an AppError as raised, a database/disk condition by its code, anything else a fault. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof AppError) return failure(err.code, err.code === 'INTERNAL' ? FAULT_MESSAGE : err.message, err.retryAfter);
  if (isStorageFull(err)) return failure('STORAGE_FULL', 'The server is out of storage space; try again later');
  const why = storageUnavailable(err);
  if (why === 'read-only') return failure('STORAGE_UNAVAILABLE', 'The server cannot write to its storage right now; retry later');
  if (why === 'no-descriptors') return failure('STORAGE_UNAVAILABLE', 'The server cannot open more files right now; retry shortly');
  if (isInvalidDatabaseInput(err)) return failure('BAD_REQUEST', 'A value in the request is not acceptable');
  if (isDatabaseUnavailable(err)) return failure('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly');
  return failure('INTERNAL', FAULT_MESSAGE);
}

/** The failure for a code the transport decided itself (a framework error, a refusal), by the table. */
export function failure(code: ErrorCode, message: string, retryAfter?: number): Failure {
  const rule: { status: number; kind: ErrorKind; retryAfter?: number } = ERRORS[code];
  return { code, status: rule.status, kind: rule.kind, message, retryAfter: retryAfter ?? rule.retryAfter };
}

interface FailureLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Logs a failure once, by its kind: a fault as an error with its stack, an unavailable condition
 * as a warning with its code (a login flood's SERVER_BUSY or a full disk is not a bug), a client's
 * own failure not at all, nor a refusal for a condition already logged where it began (the
 * database gate logs "down" once, not once per request). `what` names what failed ("chat frame failed").
 */
export function logFailure(log: FailureLog, err: unknown, f: Failure, what: string): void {
  if (f.kind === 'fault') log.error({ err }, what);
  else if (f.kind === 'unavailable' && !(err instanceof AppError && err.reported)) log.warn({ code: f.code, reason: errorText(err) }, what);
}

function errorText(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  return (typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message).slice(0, 300);
}
