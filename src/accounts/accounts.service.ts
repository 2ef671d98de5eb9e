import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import type { AuditSink } from '../shared/audit-events.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { verifyCredentials } from './credentials.js';
import type { Principal, RequestContext, Role, User } from './model.js';
import type { PasswordHasher } from './passwords.js';
import type { RateLimits } from './rate-limits.js';
import { refresh } from './refresh.js';
import { createUser, register, type RegisterInput, validateNewUser } from './registration.js';
import { createSessionAuth } from './session-auth.js';
import type { SessionCache } from './session-cache.js';
import { startCookieSession, startTokenSession } from './session-logins.js';
import * as sessions from './sessions.repository.js';
import type { TokenSigner } from './tokens.js';
import * as users from './users.repository.js';

export type { RegisterInput } from './registration.js';
export type { CookieLogin, TokenLogin } from './session-logins.js';

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
  audit: AuditSink;
}

export type AccountsService = ReturnType<typeof createAccountsService>;

/**
 * Accounts and their sessions. The parts live in their own files (registration.ts,
 * credentials.ts, session-logins.ts, session-auth.ts, refresh.ts); this composes them and keeps
 * the small session-management calls.
 */
export function createAccountsService(deps: AccountsDeps) {
  const { database, clock, sessionCache } = deps;
  const db = database.db;
  const auth = createSessionAuth(deps);

  /** Ends a session; `who` (the user and their address) is recorded in the audit log. */
  async function logout(sessionId: string, who?: { user: User; ip: string }): Promise<void> {
    await sessions.revokeSession(db, sessionId, clock.now());
    sessionCache.invalidateSession(sessionId);
    if (who) deps.audit.record({ action: 'logout', outcome: 'success', actor: who.user, ip: who.ip });
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
    validateNewUser: (input: RegisterInput) => validateNewUser(deps, input),
    createUser: (input: RegisterInput, role: Role = 'user'): Promise<User> => createUser(deps, input, role),
    register: (input: RegisterInput, ctx: RequestContext) => register(deps, input, ctx),
    verifyCredentials: (identifier: string, password: string, ctx: RequestContext) =>
      verifyCredentials(deps, identifier, password, ctx),
    startCookieSession: (user: User, ctx: RequestContext) => startCookieSession(deps, user, ctx),
    startTokenSession: (user: User, ctx: RequestContext) => startTokenSession(deps, user, ctx),
    authenticateCookie: auth.authenticateCookie,
    authenticateBearer: auth.authenticateBearer,
    authenticateSession: auth.authenticateSession,
    refresh: (refreshToken: string, ctx: RequestContext) => refresh(deps, refreshToken, ctx),
    logout,
    listSessions,
    revokeOwnSession,
  };
}
