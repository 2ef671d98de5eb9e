import { EXIT, type ExitCode } from '../exit-codes.js';

/**
 * A failure the client reports as one sentence (with what to do next) and a stable exit code.
 * `code` is the server's error code when the server gave one, else one of the client's own.
 */
export class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exit: ExitCode = EXIT.failure,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The exit code for a server error, by its code first and its HTTP status second. */
export function exitForServerError(code: string, status: number): ExitCode {
  if (code === 'QUOTA_EXCEEDED' || code === 'FILE_TOO_LARGE' || code === 'PAYLOAD_TOO_LARGE' || code === 'STORAGE_FULL')
    return EXIT.limit;
  if (status === 401) return EXIT.auth;
  if (status === 404 || status === 410) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 413 || status === 507) return EXIT.limit;
  if (status === 400 || status === 422) return EXIT.usage;
  return EXIT.failure;
}

/** What to do next, added to a server's message for the errors a user can act on. */
export function hintFor(code: string, status: number): string {
  if (code === 'INVALID_CREDENTIALS') return '';
  if (status === 401) return ' Log in again with `plaza login`.';
  if (code === 'RATE_LIMITED') return ' Wait a moment and try again.';
  if (code === 'QUOTA_EXCEEDED') return ' Delete some files (`plaza rm`) or ask an admin for more space.';
  if (status === 503) return ' The server is busy or starting; try again shortly.';
  return '';
}

export const notLoggedIn = (server: string) =>
  new ClientError('NOT_LOGGED_IN', `Not logged in to ${server}. Run \`plaza login\` first.`, EXIT.auth);
