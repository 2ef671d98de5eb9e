import type { Clock } from '../shared/clock.js';
import type { SessionRow } from './sessions.repository.js';
import type { UserRow } from './users.repository.js';

export interface LiveSession {
  session: SessionRow;
  user: UserRow;
}

/**
 * Session lookups remembered for a moment, so a burst of requests with one token costs one
 * database read. Changes this instance makes (logout, password change, disable, role, delete)
 * invalidate after their write; a lookup that was already running when an invalidation happened
 * is not cached (its answer may predate the write). Another instance's change is seen within `ttlMs`.
 */
export interface SessionCache {
  get(key: string): LiveSession | undefined;
  /** The current generation; pass it back to `set` so stale answers are dropped. */
  generation(): number;
  set(key: string, value: LiveSession, generation: number): void;
  invalidateSession(sessionId: string): void;
  invalidateUser(userId: number): void;
}

export function createSessionCache(clock: Clock, ttlMs = 1000, max = 10_000): SessionCache {
  const entries = new Map<string, { value: LiveSession; at: number }>();
  let gen = 0;
  const dropWhere = (pred: (v: LiveSession) => boolean) => {
    gen++;
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
    generation: () => gen,
    set(key, value, generation) {
      if (generation !== gen) return;
      if (entries.size >= max) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, at: clock.now() });
    },
    invalidateSession: (id) => dropWhere((v) => v.session.id === id),
    invalidateUser: (userId) => dropWhere((v) => v.user.id === userId),
  };
}
