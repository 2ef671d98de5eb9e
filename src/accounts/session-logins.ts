import { hashToken, randomId, randomToken } from '../shared/ids.js';
import type { AccountsDeps } from './accounts.service.js';
import type { RequestContext, User } from './model.js';
import * as sessions from './sessions.repository.js';

/** Opening sessions at login: the accounts service's startCookieSession and startTokenSession. */

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

type Deps = Pick<AccountsDeps, 'database' | 'config' | 'signer' | 'clock'>;

async function openSession({ database, config, clock }: Deps, user: User, kind: 'cookie' | 'api', ctx: RequestContext) {
  const now = clock.now();
  const token = randomToken(32);
  const ttl = kind === 'cookie' ? config.sessionAbsoluteSeconds : config.refreshTokenTtlSeconds;
  const id = randomId('ses');
  const expiresAt = now + ttl * 1000;
  await sessions.insertSession(database.db, {
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

export async function startCookieSession(deps: Deps, user: User, ctx: RequestContext): Promise<CookieLogin> {
  const s = await openSession(deps, user, 'cookie', ctx);
  return { user, sessionId: s.id, sessionToken: s.token, expiresAt: s.expiresAt };
}

export async function startTokenSession(deps: Deps, user: User, ctx: RequestContext): Promise<TokenLogin> {
  const s = await openSession(deps, user, 'api', ctx);
  const access = await deps.signer.sign(user.id, s.id, deps.clock.now());
  return {
    user,
    sessionId: s.id,
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: s.token,
    refreshTokenExpiresAt: s.expiresAt,
  };
}
