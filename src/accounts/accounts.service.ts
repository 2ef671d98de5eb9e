import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import { uniqueViolation } from '../db/errors.js';
import { clientNetwork } from '../shared/client-network.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { hashToken, randomId, randomToken } from '../shared/ids.js';
import { type Principal, type RequestContext, type Role, toUser, type User } from './model.js';
import type { PasswordHasher } from './passwords.js';
import type { RateLimits } from './rate-limits.js';
import {
  checkEmail,
  checkPassword,
  checkUsername,
  normalizeEmail,
  normalizeUsername,
  usernameFromEmail,
} from './rules.js';
import type { LiveSession, SessionCache } from './session-cache.js';
import * as sessions from './sessions.repository.js';
import type { TokenSigner } from './tokens.js';
import * as users from './users.repository.js';

export interface AccountsDeps {
  database: Database;
  config: Pick<
    Config,
    | 'password'
    | 'registration'
    | 'sessionIdleSeconds'
    | 'sessionAbsoluteSeconds'
    | 'refreshTokenTtlSeconds'
    | 'refreshReuseGraceSeconds'
  >;
  hasher: PasswordHasher;
  signer: TokenSigner;
  rateLimits: RateLimits;
  clock: Clock;
  sessionCache: SessionCache;
}

export interface RegisterInput {
  username?: string | undefined;
  email?: string | undefined;
  password: string;
}

export interface CookieLogin {
  user: User;
  sessionId: string;
  /** The opaque token for the session cookie. */
  sessionToken: string;
  expiresAt: number;
}

export interface TokenLogin {
  user: User;
  sessionId: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
}

/** last_seen_at is written at most this often, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

export type AccountsService = ReturnType<typeof createAccountsService>;

export function createAccountsService(deps: AccountsDeps) {
  const { database, config, hasher, signer, rateLimits, clock, sessionCache } = deps;
  const db = database.db;

  /** A live session by id or token hash, through the short-lived cache. */
  async function lookup(where: { id: string } | { tokenHash: string }, now: number): Promise<LiveSession | undefined> {
    const key = 'id' in where ? `i:${where.id}` : `h:${where.tokenHash}`;
    const cached = sessionCache.get(key);
    if (cached) return cached;
    const generation = sessionCache.generation();
    const found = await sessions.findLiveSession(db, where, now);
    if (found) sessionCache.set(key, found, generation);
    return found;
  }

  async function findByIdentifier(identifier: string) {
    const id = identifier.trim();
    // No stored name or email contains control characters; PostgreSQL rejects NUL outright.
    if (id.length === 0 || id.length > 320 || /[\u0000-\u001f\u007f]/.test(id)) return undefined;
    if (id.includes('@')) return users.findUserByEmail(db, normalizeEmail(id));
    return users.findUserByUsername(db, normalizeUsername(id));
  }

  async function uniqueUsernameFor(email: string): Promise<string> {
    const base = usernameFromEmail(email);
    for (let i = 0; i < 50; i++) {
      const candidate = i === 0 ? base : `${base.slice(0, 26)}${i + 1}`;
      if (!(await users.findUserByUsername(db, candidate))) return candidate;
    }
    return `${base.slice(0, 20)}_${randomToken(6)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')}`.slice(0, 32);
  }

  /** Checks a new user's fields without storing anything; returns the normalised ones. */
  function validateNewUser(input: RegisterInput): { username?: string; email: string | null } {
    const email = input.email !== undefined && input.email !== '' ? checkEmail(input.email) : null;
    const username = input.username !== undefined && input.username !== '' ? checkUsername(input.username) : undefined;
    if (username === undefined && email === null) {
      throw new AppError('VALIDATION_FAILED', 'A username or an email is required');
    }
    checkPassword(input.password, config.password);
    return { ...(username ? { username } : {}), email };
  }

  /** Creates a user; `role` and skipping the registration mode are for admins and the CLI only. */
  async function createUser(input: RegisterInput, role: Role = 'user'): Promise<User> {
    const valid = validateNewUser(input);
    const email = valid.email;
    const username = valid.username ?? (await uniqueUsernameFor(email ?? ''));

    if (await users.findUserByUsername(db, username)) throw new AppError('USERNAME_TAKEN', 'Username is already taken');
    if (email && (await users.findUserByEmail(db, email))) {
      throw new AppError('EMAIL_TAKEN', 'Email is already registered');
    }
    const password_hash = await hasher.hash(input.password);
    try {
      const row = await users.insertUser(db, { username, email, password_hash, role, created_at: clock.now() });
      return toUser(row);
    } catch (err) {
      const col = uniqueViolation(err);
      if (col?.endsWith('email')) throw new AppError('EMAIL_TAKEN', 'Email is already registered');
      if (col) throw new AppError('USERNAME_TAKEN', 'Username is already taken');
      throw err;
    }
  }

  async function register(input: RegisterInput, ctx: RequestContext): Promise<User> {
    if (config.registration === 'closed') {
      throw new AppError('REGISTRATION_CLOSED', 'Registration is closed on this server; ask an admin for an account');
    }
    await rateLimits.consume('registerIp', ctx.ip);
    return createUser(input);
  }

  /** Whether `userId` ever logged in from the client network of `ip` (sessions keep their IP). */
  async function loggedInFrom(userId: number | undefined, ip: string): Promise<boolean> {
    // Unknown names run the same query, so the answer takes the same time for both.
    const ips = await sessions.listSessionIps(db, userId ?? 0);
    const network = clientNetwork(ip);
    return ips.some((known) => clientNetwork(known) === network);
  }

  /**
   * Checks a password. Unknown users and wrong passwords take the same time and give the same
   * error. Attempts are limited per client (all attempts, and failures), per (account, client)
   * and per account; failures of others never lock the owner out (decision 0003).
   */
  async function verifyCredentials(identifier: string, password: string, ctx: RequestContext): Promise<User> {
    await rateLimits.consume('loginIp', ctx.ip);
    const row = password.length <= 4096 ? await findByIdentifier(identifier) : undefined;
    // Keyed on the account, so its username and email share one budget. A name that is no
    // account gets a counter of its own, exactly like an account (the limiters store every key as
    // a 16-byte hash and hold a bounded number of them): a counter shared by unknown names would
    // fill up and answer 429 for them alone, telling them apart from accounts (decision 0003).
    const accountKey = row ? `user:${row.id}` : `name:${identifier.trim().toLowerCase().normalize('NFKC').slice(0, 320)}`;
    const attempt = await rateLimits.beginLogin(accountKey, ctx.ip, () => loggedInFrom(row?.id, ctx.ip));
    let ok: boolean;
    try {
      ok = await hasher.verify(row?.password_hash ?? null, password);
    } catch (err) {
      // SERVER_BUSY: the password was not checked, so the attempt is not held against anyone.
      await attempt.abandoned();
      throw err;
    }
    if (!row || !ok) throw new AppError('INVALID_CREDENTIALS', 'Incorrect username, email or password');
    if (row.disabled === 1) throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
    await attempt.succeeded();
    if (hasher.needsRehash(row.password_hash)) {
      try {
        await users.updateUser(db, row.id, { password_hash: await hasher.hash(password) });
      } catch (err) {
        // A busy server upgrades the hash at a later login instead of failing this one.
        if (!(err instanceof AppError && err.code === 'SERVER_BUSY')) throw err;
      }
    }
    return toUser(row);
  }

  async function openSession(user: User, kind: 'cookie' | 'api', ctx: RequestContext) {
    const now = clock.now();
    const token = randomToken(32);
    const ttl = kind === 'cookie' ? config.sessionAbsoluteSeconds : config.refreshTokenTtlSeconds;
    const id = randomId('ses');
    const expiresAt = now + ttl * 1000;
    await sessions.insertSession(db, {
      id,
      user_id: user.id,
      kind,
      token_hash: hashToken(token),
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
      user_agent: ctx.userAgent?.slice(0, 300) ?? null,
      ip: ctx.ip,
    });
    return { id, token, expiresAt };
  }

  async function startCookieSession(user: User, ctx: RequestContext): Promise<CookieLogin> {
    const s = await openSession(user, 'cookie', ctx);
    return { user, sessionId: s.id, sessionToken: s.token, expiresAt: s.expiresAt };
  }

  async function startTokenSession(user: User, ctx: RequestContext): Promise<TokenLogin> {
    const s = await openSession(user, 'api', ctx);
    const access = await signer.sign(user.id, s.id, clock.now());
    return {
      user,
      sessionId: s.id,
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: s.token,
      refreshTokenExpiresAt: s.expiresAt,
    };
  }

  /** Sessions seen since the last write of `last_seen_at`, and when. */
  const seen = new Map<string, number>();
  let touchScheduled = false;

  /**
   * Notes that a session was used (at most once a minute per session). The notes of one turn of
   * the event loop are written together in one transaction that does not wait for its own fsync:
   * `last_seen_at` only moves idle expiry, so a power cut losing the last minute of it is harmless,
   * while 50 sockets' sessions re-checked by one heartbeat would otherwise cost 50 fsyncs on the
   * event loop. A failed write loses only these notes: the request that caused them goes on.
   */
  function touch(found: LiveSession, now: number) {
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

  /**
   * Renews a bearer token. The refresh token is rotated, so each one works once; one presented
   * again was copied (by whoever used it first, or now), so the session it belongs to is revoked,
   * with its current refresh token and access tokens (OAuth 2.0 Security BCP: the token family).
   * One exception: the token just replaced, presented again from the client network that replaced
   * it within `refreshReuseGraceSeconds` (a retry after a lost response, two tabs at once), is
   * refused without revoking anything.
   */
  async function refresh(refreshToken: string, ctx: RequestContext): Promise<TokenLogin> {
    const now = clock.now();
    const oldHash = hashToken(refreshToken);
    const found = await sessions.findLiveSession(db, { tokenHash: oldHash }, now);
    if (found && found.session.kind === 'api' && found.user.disabled !== 1) {
      const id = found.session.id;
      const next = randomToken(32);
      const nextHash = hashToken(next);
      // The old hash is kept in the same transaction: a concurrent use of it either wins this
      // rotation or, failing the guarded update, finds the hash (and what replaced it).
      const rotated = await db.transaction().execute(async (trx) => {
        if (!(await sessions.rotateSessionToken(trx, id, oldHash, nextHash, now))) return false;
        await sessions.insertRotatedToken(trx, {
          token_hash: oldHash,
          session_id: id,
          rotated_at: now,
          replaced_by_hash: nextHash,
          rotated_ip: ctx.ip,
        });
        return true;
      });
      sessionCache.invalidateSession(id);
      if (rotated) {
        const access = await signer.sign(found.user.id, id, now);
        return {
          user: toUser(found.user),
          sessionId: id,
          accessToken: access.token,
          accessTokenExpiresAt: access.expiresAt,
          refreshToken: next,
          refreshTokenExpiresAt: found.session.expires_at,
        };
      }
    }
    await refuseReused(oldHash, now, ctx);
    throw new AppError('INVALID_TOKEN', 'Refresh token is invalid, expired or already used');
  }

  /**
   * A replaced refresh token presented again: within the grace, the one just replaced, from the
   * network that replaced it, is only refused; anything else ends its session, and says so.
   * Nobody gets a working token out of it either way (decision 0004).
   */
  async function refuseReused(tokenHash: string, now: number, ctx: RequestContext): Promise<void> {
    const replaced = await sessions.findRotatedToken(db, tokenHash);
    if (replaced === undefined) return;
    const live = await sessions.findLiveSession(db, { id: replaced.session_id }, now);
    const retried =
      live !== undefined &&
      replaced.replaced_by_hash === live.session.token_hash &&
      now - replaced.rotated_at < config.refreshReuseGraceSeconds * 1000 &&
      replaced.rotated_ip !== null &&
      clientNetwork(replaced.rotated_ip) === clientNetwork(ctx.ip);
    if (retried) {
      throw new AppError(
        'INVALID_TOKEN',
        'Refresh token was already used moments ago; continue with the refresh token that replaced it',
      );
    }
    await sessions.revokeSession(db, replaced.session_id, now);
    sessionCache.invalidateSession(replaced.session_id);
    throw new AppError('INVALID_TOKEN', 'Refresh token was already used; its session has been ended, log in again');
  }

  async function logout(sessionId: string): Promise<void> {
    await sessions.revokeSession(db, sessionId, clock.now());
    sessionCache.invalidateSession(sessionId);
  }

  async function listSessions(principal: Principal) {
    const rows = await sessions.listUserSessions(db, principal.user.id, clock.now());
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      createdAt: r.created_at,
      lastSeenAt: r.last_seen_at,
      expiresAt: r.expires_at,
      userAgent: r.user_agent,
      ip: r.ip,
      current: r.id === principal.sessionId,
    }));
  }

  async function revokeOwnSession(principal: Principal, sessionId: string): Promise<void> {
    const mine = await sessions.listUserSessions(db, principal.user.id, clock.now());
    if (!mine.some((s) => s.id === sessionId)) throw new AppError('NOT_FOUND', 'No such session');
    await sessions.revokeSession(db, sessionId, clock.now());
    sessionCache.invalidateSession(sessionId);
  }

  /** Deletes sessions that ended more than a week ago. */
  async function purgeEnded(): Promise<void> {
    await sessions.purgeEndedSessions(db, clock.now() - 7 * 86400_000);
  }

  /** Deletes a user without the admin checks (undoing a lost setup race). */
  async function removeUnchecked(userId: number): Promise<void> {
    await users.deleteUser(db, userId);
    sessionCache.invalidateUser(userId);
  }

  return {
    removeUnchecked,
    purgeEnded,
    validateNewUser,
    createUser,
    register,
    verifyCredentials,
    startCookieSession,
    startTokenSession,
    authenticateCookie,
    authenticateBearer,
    authenticateSession,
    refresh,
    logout,
    listSessions,
    revokeOwnSession,
  };
}
