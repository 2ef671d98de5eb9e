/**
 * The closed set of failure codes a service may raise, and the one rule for each (Outline's
 * `isReportable` is the model): its HTTP status, its kind and a default retry hint. Every
 * transport reads this table through shared/error-map.ts and only says the code in its own words
 * (HTTP JSON in http/errors.ts, WebSocket error frames, the seeds' strings in compat/).
 *
 * - `client`: the request's own fault or a refusal; the message is client-safe and shown, nothing is logged as a failure.
 * - `unavailable`: the server cannot do it right now (database down, disk full or read-only, busy, stopping);
 *   the message is shown with its retry hint and logged as a warning, not as a server fault.
 * - `fault`: a bug or an unknown failure; logged with its stack, and the client sees only a generic message.
 */
export type ErrorKind = 'client' | 'unavailable' | 'fault';

export interface ErrorRule {
  status: number;
  kind: ErrorKind;
  /** Seconds a client should wait before retrying, when the code itself implies one. */
  retryAfter?: number;
}

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, kind: 'client' },
  INVALID_JSON: { status: 400, kind: 'client' },
  INVALID_CURSOR: { status: 400, kind: 'client' },
  BAD_REQUEST: { status: 400, kind: 'client' },
  UPLOAD_INCOMPLETE: { status: 400, kind: 'client' },
  UNAUTHENTICATED: { status: 401, kind: 'client' },
  INVALID_CREDENTIALS: { status: 401, kind: 'client' },
  INVALID_TOKEN: { status: 401, kind: 'client' },
  INVALID_ACCESS_KEY: { status: 401, kind: 'client' },
  FORBIDDEN: { status: 403, kind: 'client' },
  NOT_MEMBER: { status: 403, kind: 'client' },
  CSRF_REJECTED: { status: 403, kind: 'client' },
  ACCOUNT_DISABLED: { status: 403, kind: 'client' },
  REGISTRATION_CLOSED: { status: 403, kind: 'client' },
  NOT_FOUND: { status: 404, kind: 'client' },
  METHOD_NOT_ALLOWED: { status: 405, kind: 'client' },
  REQUEST_TIMEOUT: { status: 408, kind: 'client' },
  USERNAME_TAKEN: { status: 409, kind: 'client' },
  EMAIL_TAKEN: { status: 409, kind: 'client' },
  ACCESS_KEY_ACTIVE: { status: 409, kind: 'client' },
  LAST_ADMIN: { status: 409, kind: 'client' },
  ROOM_EXISTS: { status: 409, kind: 'client' },
  UPLOAD_CONFLICT: { status: 409, kind: 'client' },
  /** An admin already has a saved console query of that name. */
  QUERY_NAME_TAKEN: { status: 409, kind: 'client' },
  /** A backup is already being written by this server. */
  BACKUP_IN_PROGRESS: { status: 409, kind: 'client' },
  /** A restore needs the data dir to itself (a server or another restore is on it). */
  DATA_DIR_BUSY: { status: 409, kind: 'client' },
  UPLOAD_EXPIRED: { status: 410, kind: 'client' },
  PRECONDITION_FAILED: { status: 412, kind: 'client' },
  PAYLOAD_TOO_LARGE: { status: 413, kind: 'client' },
  FILE_TOO_LARGE: { status: 413, kind: 'client' },
  URI_TOO_LONG: { status: 414, kind: 'client' },
  RANGE_NOT_SATISFIABLE: { status: 416, kind: 'client' },
  EXPECTATION_FAILED: { status: 417, kind: 'client' },
  UNSUPPORTED_IMAGE: { status: 422, kind: 'client' },
  /** A backup archive that is damaged, lies, or is not Plaza's. */
  ARCHIVE_INVALID: { status: 422, kind: 'client' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, kind: 'client' },
  /** The database console will not run this SQL (a forbidden statement or function, several statements, too long, masked columns). */
  QUERY_REFUSED: { status: 400, kind: 'client' },
  /** The database refused the console's SQL (a syntax error, a write in read-only mode…); its message is shown. */
  QUERY_FAILED: { status: 422, kind: 'client' },
  /** A console query ran past PLAZA_CONSOLE_TIMEOUT_MS and was cut off. */
  QUERY_TIMEOUT: { status: 422, kind: 'client' },
  /** A plain request on a WebSocket-only path. */
  UPGRADE_REQUIRED: { status: 426, kind: 'client' },
  RATE_LIMITED: { status: 429, kind: 'client' },
  TOO_MANY_SOCKETS: { status: 429, kind: 'client' },
  HEADERS_TOO_LARGE: { status: 431, kind: 'client' },
  INTERNAL: { status: 500, kind: 'fault' },
  QUOTA_EXCEEDED: { status: 507, kind: 'client' },
  STORAGE_FULL: { status: 507, kind: 'unavailable' },
  /** 2 s: the database is probed at least every second while it is down (db/availability.ts). */
  DATABASE_UNAVAILABLE: { status: 503, kind: 'unavailable', retryAfter: 2 },
  STORAGE_UNAVAILABLE: { status: 503, kind: 'unavailable', retryAfter: 5 },
  TOO_MANY_CONNECTIONS: { status: 503, kind: 'unavailable' },
  SERVER_BUSY: { status: 503, kind: 'unavailable' },
  SHUTTING_DOWN: { status: 503, kind: 'unavailable' },
} as const satisfies Record<string, ErrorRule>;

export type ErrorCode = keyof typeof ERRORS;

/** Each code's HTTP status (the table above, status only). */
export const ERROR_STATUS = Object.fromEntries(Object.entries(ERRORS).map(([code, rule]) => [code, rule.status])) as {
  [C in ErrorCode]: (typeof ERRORS)[C]['status'];
};

export interface AppErrorOptions {
  /** Seconds after which the client may retry (429, 503). */
  retryAfter?: number;
  cause?: unknown;
  /** The condition was logged once where it began (the database gate): each request refused for it is not logged again. */
  reported?: boolean;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;
  readonly reported: boolean;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options.retryAfter;
    this.reported = options.reported === true;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
