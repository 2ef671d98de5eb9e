import type { Database } from '../db/connect.js';
import { describeFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import { hashToken } from '../shared/ids.js';
import type { AccountsDeps } from './accounts.service.js';
import { type Principal, toUser } from './model.js';
import type { LiveSession } from './session-cache.js';
import * as sessions from './sessions.repository.js';

/** last_seen_at is written at most this often, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Notes that a session was used (at most once a minute per session). The notes of one turn of
 * the event loop are written together in one transaction that does not wait for its own fsync:
 * `last_seen_at` only moves idle expiry, so a power cut losing the last minute of it is harmless,
 * while 50 sockets' sessions re-checked by one heartbeat would otherwise cost 50 fsyncs on the
 * event loop. A failed write loses only these notes: the request that caused them goes on.
 */
function createToucher(database: Database) {
  /** Sessions seen since the last write of `last_seen_at`, and when. */
  const seen = new Map<string, number>();
  let touchScheduled = false;

  return function touch(found: LiveSession, now: number) {
    if (now - found.session.last_seen_at <= TOUCH_INTERVAL_MS) return;
    found.session.last_seen_at = now;
    seen.set(found.session.id, now);
    if (touchScheduled) return;
    touchScheduled = true;
    setImmediate(() => {
      touchScheduled = false;
      const batch = [...seen];
      seen.clear();
      database
        .transactionDurableLater(async (trx) => {
          for (const [id, at] of batch) await sessions.touchSession(trx, id, at);
        })
        .then(
          ({ durable }) => durable.catch(() => {}),
          () => {},
        );
    });
  };
}

/** Presented credentials → a principal: the accounts service's authenticateCookie, authenticateSession and authenticateBearer. */
export function createSessionAuth({ database, config, signer, clock, sessionCache }: AccountsDeps) {
  const db = database.db;
  const touch = createToucher(database);

  /** A live session by id or token hash, through the short-lived cache. */
  async function lookup(where: { id: string } | { tokenHash: string }, now: number): Promise<LiveSession | undefined> {
    const key = 'id' in where ? `i:${where.id}` : `h:${where.tokenHash}`;
    const cached = sessionCache.get(key);
    if (cached) return cached;
    const generation = sessionCache.generation();
    let found: LiveSession | undefined;
    try {
      found = await sessions.findLiveSession(db, where, now);
    } catch (err) {
      // Database down: a session validated in the last minute still stands (degraded mode).
      const recent = describeFailure(err).code === 'DATABASE_UNAVAILABLE' ? sessionCache.recent(key) : undefined;
      if (recent) return recent;
      throw err;
    }
    if (found) sessionCache.set(key, found, generation);
    return found;
  }

  /** Resolves a session cookie; undefined when it is unknown, revoked, idle too long or expired. */
  async function authenticateCookie(token: string): Promise<Principal | undefined> {
    if (token.length > 200) return undefined;
    const now = clock.now();
    const found = await lookup({ tokenHash: hashToken(token) }, now);
    if (!found || found.session.kind !== 'cookie' || found.user.disabled === 1) return undefined;
    if (found.session.last_seen_at + config.sessionIdleSeconds * 1000 <= now) return undefined;
    touch(found, now);
    return { user: toUser(found.user), sessionId: found.session.id, via: 'cookie' };
  }

  /** Re-checks a session by id (a login remembered on a connection). */
  async function authenticateSession(sessionId: string): Promise<Principal | undefined> {
    const now = clock.now();
    const found = await lookup({ id: sessionId }, now);
    if (!found || found.user.disabled === 1) return undefined;
    if (found.session.kind === 'cookie' && found.session.last_seen_at + config.sessionIdleSeconds * 1000 <= now) {
      return undefined;
    }
    touch(found, now);
    return { user: toUser(found.user), sessionId: found.session.id, via: 'connection' };
  }

  /** Resolves a bearer token; throws INVALID_TOKEN with the reason. */
  async function authenticateBearer(token: string): Promise<Principal> {
    const now = clock.now();
    const claims = await signer.verify(token, now);
    const found = await lookup({ id: claims.sessionId }, now);
    if (!found || found.user.id !== claims.userId) throw new AppError('INVALID_TOKEN', 'Access token has been revoked');
    if (found.user.disabled === 1) throw new AppError('INVALID_TOKEN', 'This account is disabled');
    touch(found, now);
    return { user: toUser(found.user), sessionId: found.session.id, via: 'bearer' };
  }

  return { authenticateCookie, authenticateSession, authenticateBearer };
}
