/**
 * The closed set of failure codes a service may raise. Each transport maps them once:
 * HTTP status + JSON in http/errors.ts, the seed's own strings in each compat adapter.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_CURSOR: 400,
  BAD_REQUEST: 400,
  UPLOAD_INCOMPLETE: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_TOKEN: 401,
  INVALID_ACCESS_KEY: 401,
  FORBIDDEN: 403,
  NOT_MEMBER: 403,
  CSRF_REJECTED: 403,
  ACCOUNT_DISABLED: 403,
  REGISTRATION_CLOSED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  USERNAME_TAKEN: 409,
  EMAIL_TAKEN: 409,
  ACCESS_KEY_ACTIVE: 409,
  LAST_ADMIN: 409,
  ROOM_EXISTS: 409,
  UPLOAD_CONFLICT: 409,
  UPLOAD_EXPIRED: 410,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  FILE_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  RANGE_NOT_SATISFIABLE: 416,
  EXPECTATION_FAILED: 417,
  UNSUPPORTED_IMAGE: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_SOCKETS: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  QUOTA_EXCEEDED: 507,
  STORAGE_FULL: 507,
  DATABASE_UNAVAILABLE: 503,
  STORAGE_UNAVAILABLE: 503,
  TOO_MANY_CONNECTIONS: 503,
  SERVER_BUSY: 503,
  SHUTTING_DOWN: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  /** Seconds after which the client may retry (429, 503). */
  retryAfter?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}
