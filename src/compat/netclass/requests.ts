import { parseUserLine } from './semantics.js';

/**
 * Seed 001's requests inside one burst of bytes. Its client does not speak valid HTTP: GET/HEAD
 * end right after `Content-Length:0` (no blank line, not even a line break), POST/PUT announce 4
 * bytes more than they send, and the request line may have no path (`POST HTTP/1.1`). So a burst
 * is split where a request line starts, the method is the first token and the credentials are the
 * `user:` line.
 */

/**
 * Where a new request starts inside one burst: a request line at a line start, or glued right after
 * the seed's GET/HEAD, which ends with `Content-Length:0` and no line break.
 */
// Bounded repetitions only: an unbounded run of digits inside the look-behind made a 64 KiB burst
// take seconds to split (every position rescanned it), stalling the whole server.
const REQUEST_START = /(?<=\n|[Cc]ontent-[Ll]ength:[ \t]{0,16}\d{1,19})(?=[A-Z]{3,10} (?:\S+ )?HTTP\/\d)/;
/** Requests answered from one burst; the seed client sends one per write. */
export const MAX_REQUESTS_PER_BURST = 100;

export function splitRequests(burst: string): string[] {
  // Blank lines before a request line are ignored, as RFC 9112 §2.2 allows.
  return burst
    .split(REQUEST_START)
    .map((r) => r.replace(/^[\r\n]+/, ''))
    .filter((r) => r.trim() !== '');
}

/** The credentials line, preferably from the body after the blank line (a header could start with `user:`). */
export function credentials(request: string, extras: RegExp) {
  const blank = request.indexOf('\r\n\r\n');
  return (blank >= 0 ? parseUserLine(request.slice(blank + 4), extras) : undefined) ?? parseUserLine(request, extras);
}
