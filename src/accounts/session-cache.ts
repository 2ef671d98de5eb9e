import type { Clock } from '../shared/clock.js';
import type { SessionRow } from './sessions.repository.js';
import type { UserRow } from './users.repository.js';

export interface LiveSession {
  session: SessionRow;
  user: UserRow;
}

/**
 * Session lookups remembered for a moment, so a burst of requests with one token costs one
 * database read. Every change this instance makes (logout, password change, disable, role,
 * delete) invalidates at once; another instance's change is seen within `ttlMs`.
 */
export interface SessionCache {
  get(key: string): LiveSession | undefined;
  set(key: string, value: LiveSession): void;
  invalidateSession(sessionId: string): void;
  invalidateUser(userId: number): void;
}

export function createSessionCache(clock: Clock, ttlMs = 1000, max = 10_000): SessionCache {
  const entries = new Map<string, { value: LiveSession; at: number }>();
  const dropWhere = (pred: (v: LiveSession) => boolean) => {
    for (const [k, e] of entries) if (pred(e.value)) entries.delete(k);
  };
  return {
    get(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      const now = clock.now();
      if (now - e.at > ttlMs || e.value.session.expires_at <= now) {
        entries.delete(key);
        return undefined;
      }
      return e.value;
    },
    set(key, value) {
      if (entries.size >= max) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, at: clock.now() });
    },
    invalidateSession: (id) => dropWhere((v) => v.session.id === id),
    invalidateUser: (userId) => dropWhere((v) => v.user.id === userId),
  };
}
