import type { SessionCache } from './session-cache.js';

/** A login that may have ended (logout, refresh rotation) or a user whose standing changed (disable, delete, password, role). */
export type Revocation = { sessionId: string } | { userId: number };

/**
 * Where session and user changes are announced the moment they are written: the session cache
 * forgets them, open sockets behind them are re-checked at once (not at the next heartbeat), and
 * with several instances the same happens on every other instance (`relay`, over Redis).
 */
export interface Revocations {
  /** Called with each revocation, local or from another instance. Returns the unsubscribe function. */
  subscribe(fn: (r: Revocation) => void): () => void;
  /** A revocation another instance announced: applied here, not relayed again. */
  receive(r: Revocation): void;
}

export function announcingSessionCache(cache: SessionCache, relay?: (r: Revocation) => void): { cache: SessionCache; revocations: Revocations } {
  const listeners = new Set<(r: Revocation) => void>();
  const apply = (r: Revocation) => {
    if ('sessionId' in r) cache.invalidateSession(r.sessionId);
    else cache.invalidateUser(r.userId);
    for (const fn of [...listeners]) fn(r);
  };
  const local = (r: Revocation) => {
    apply(r);
    relay?.(r);
  };
  return {
    cache: {
      ...cache,
      invalidateSession: (sessionId) => local({ sessionId }),
      invalidateUser: (userId) => local({ userId }),
    },
    revocations: {
      subscribe(fn) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      receive: apply,
    },
  };
}
