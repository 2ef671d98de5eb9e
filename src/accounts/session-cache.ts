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
 * While the database is down, `recent` still vouches for a session validated in the last
 * `graceMs` (SPEC §9's degraded mode: reads that need no database keep working).
 */
export interface SessionCache {
  get(key: string): LiveSession | undefined;
  /** A session validated at most `graceMs` ago and not expired since (only while the database cannot be asked). */
  recent(key: string): LiveSession | undefined;
  /** The current generation; pass it back to `set` so stale answers are dropped. */
  generation(): number;
  set(key: string, value: LiveSession, generation: number): void;
  invalidateSession(sessionId: string): void;
  invalidateUser(userId: number): void;
}

/** How long a validated session is vouched for while the database is down. */
export const SESSION_GRACE_MS = 60_000;

export function createSessionCache(clock: Clock, ttlMs = 1000, max = 10_000, graceMs = SESSION_GRACE_MS): SessionCache {
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
      if (now - e.at > graceMs || e.value.session.expires_at <= now) entries.delete(key);
      return now - e.at > ttlMs || e.value.session.expires_at <= now ? undefined : e.value;
    },
    recent(key) {
      const e = entries.get(key);
      const now = clock.now();
      return e && now - e.at <= graceMs && e.value.session.expires_at > now ? e.value : undefined;
    },
    generation: () => gen,
    set(key, value, generation) {
      if (generation !== gen) return;
      entries.delete(key);
      if (entries.size >= max) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, at: clock.now() });
    },
    invalidateSession: (id) => dropWhere((v) => v.session.id === id),
    invalidateUser: (userId) => dropWhere((v) => v.user.id === userId),
  };
}
