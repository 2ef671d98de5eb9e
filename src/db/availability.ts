import { AppError } from '../shared/errors.js';
import { isDatabaseUnavailable } from '../shared/system-errors.js';

/**
 * Whether the database server answers, as the driver last found it (PostgreSQL): the gate in front
 * of the pool. Once a connection or a query fails because the server is gone, the database is
 * `down`: every request that needs it fails at once with DATABASE_UNAVAILABLE (no request waits
 * for a connection that cannot come, the pool never fills with waiters), and one probe at a time
 * retries with bounded, jittered exponential backoff until the server answers; then it is `up`
 * again by itself.
 */
export interface Availability {
  readonly up: boolean;
  /** When the database was found down (ms since the epoch), while it is. */
  readonly downSince: number | undefined;
  /** Throws DATABASE_UNAVAILABLE while the database is down. */
  check(): void;
  /** A driver failure: one that says the server is unreachable marks it down and starts probing. */
  failed(err: unknown): void;
  /** Called on every change (the server logs it: the refusals themselves are not logged, see AppError's `reported`). */
  onChange(fn: (up: boolean) => void): void;
  close(): void;
}

export interface AvailabilityOptions {
  /** Asks the server directly (not through the gate); throws when it does not answer. */
  probe(): Promise<void>;
  /** The first retry's delay and the bound on every later one (ms). */
  minDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  now?: () => number;
}

/** The delay before probe number `attempt` (0-based): exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function createAvailability(options: AvailabilityOptions): Availability {
  const { probe, minDelayMs = 100, maxDelayMs = 1000, random = Math.random, now = Date.now } = options;
  let downSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let closed = false;
  const listeners: Array<(up: boolean) => void> = [];
  const tell = (up: boolean) => {
    for (const fn of listeners) fn(up);
  };

  function schedule() {
    if (closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      probe().then(
        () => {
          if (closed || downSince === undefined) return;
          downSince = undefined;
          attempt = 0;
          tell(true);
        },
        () => {
          attempt++;
          schedule();
        },
      );
    }, backoffDelay(attempt, minDelayMs, maxDelayMs, random));
    timer.unref();
  }

  return {
    get up() {
      return downSince === undefined;
    },
    get downSince() {
      return downSince;
    },
    check() {
      if (downSince !== undefined) {
        // Retry-After is the code's own (2 s: past the probes' 1 s bound).
        throw new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly', { reported: true });
      }
    },
    failed(err) {
      if (closed || downSince !== undefined || !isDatabaseUnavailable(err)) return;
      downSince = now();
      attempt = 0;
      tell(false);
      schedule();
    },
    onChange(fn) {
      listeners.push(fn);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
