import { formatBytes } from './format.js';

/** A failed API call: Plaza's `{"error":{"code","message"}}`, or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Sends the browser to the login page, coming back here afterwards. */
export function goToLogin(): void {
  const next = `${location.pathname}${location.search}`;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** `goToLogin`, then ends the caller's work (a request refused with 401 has nothing more to do). */
export function toLogin(): never {
  goToLogin();
  throw new ApiError('UNAUTHENTICATED', 'Your session has ended; log in again.', 401);
}

/** Plaza's error body (or whatever came back) as an ApiError. */
export function errorFromBody(status: number, text: string, retryAfter?: string | null): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.code) {
      const wait = retryAfter ? Number(retryAfter) : undefined;
      return new ApiError(body.error.code, body.error.message ?? body.error.code, status, wait);
    }
  } catch {}
  return new ApiError('HTTP_ERROR', `The server answered ${status}.`, status);
}

export interface CallOptions {
  /** Leave a 401 to the caller instead of going to the login page. */
  allow401?: boolean;
}

export async function api<T>(method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError('NETWORK', 'Plaza cannot be reached. Check your connection and try again.', 0);
  }
  const text = await res.text();
  if (!res.ok) {
    const err = errorFromBody(res.status, text, res.headers.get('retry-after'));
    // A wrong password typed into a form is the form's error; any other 401 means the session is over.
    if (res.status === 401 && !options.allow401 && err.code !== 'INVALID_CREDENTIALS') toLogin();
    throw err;
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** An error as a sentence a person can act on (never a raw code or JSON). */
export function sentence(err: unknown, limits?: { maxUploadBytes?: number }): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : 'Something went wrong.';
  switch (err.code) {
    case 'QUOTA_EXCEEDED':
      return 'Not enough storage left: this upload would go over your quota. Delete some files or ask an admin for more space.';
    case 'PAYLOAD_TOO_LARGE':
    case 'FILE_TOO_LARGE':
      return limits?.maxUploadBytes
        ? `This file is too big: the server accepts files up to ${formatBytes(limits.maxUploadBytes)}.`
        : 'This file is too big for the server.';
    case 'STORAGE_FULL':
      return "The server's disk is full. Try again later or ask an admin.";
    case 'RATE_LIMITED':
      return err.retryAfter ? `Too many attempts. Try again in ${err.retryAfter} s.` : 'Too many attempts. Wait a moment and try again.';
    case 'INVALID_CREDENTIALS':
      return 'That password is not right. Check it and try again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'NOT_FOUND':
      return 'It is no longer there (it may have been deleted).';
    default:
      return err.message.endsWith('.') ? err.message : `${err.message}.`;
  }
}
