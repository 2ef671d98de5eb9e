import { AppError } from '../shared/errors.js';
import { hashToken, randomToken } from '../shared/ids.js';
import type { AccountsDeps } from './accounts.service.js';
import { type RequestContext, toUser } from './model.js';
import { clientNetwork } from '../shared/client-network.js';
import type { TokenLogin } from './session-logins.js';
import * as sessions from './sessions.repository.js';

type Deps = Pick<AccountsDeps, 'database' | 'config' | 'signer' | 'clock' | 'sessionCache'>;

/**
 * Renews a bearer token. The refresh token is rotated, so each one works once; one presented
 * again was copied (by whoever used it first, or now), so the session it belongs to is revoked,
 * with its current refresh token and access tokens (OAuth 2.0 Security BCP: the token family).
 * One exception: the token just replaced, presented again from the client network that replaced
 * it within `refreshReuseGraceSeconds` (a retry after a lost response, two tabs at once), is
 * refused without revoking anything.
 */
export async function refresh(deps: Deps, refreshToken: string, ctx: RequestContext): Promise<TokenLogin> {
  const { signer, clock, sessionCache } = deps;
  const db = deps.database.db;
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
  await refuseReused(deps, oldHash, now, ctx);
  throw new AppError('INVALID_TOKEN', 'Refresh token is invalid, expired or already used');
}

/**
 * A replaced refresh token presented again: within the grace, the one just replaced, from the
 * network that replaced it, is only refused; anything else ends its session, and says so.
 * Nobody gets a working token out of it either way (decision 0004).
 */
async function refuseReused(deps: Deps, tokenHash: string, now: number, ctx: RequestContext): Promise<void> {
  const db = deps.database.db;
  const replaced = await sessions.findRotatedToken(db, tokenHash);
  if (replaced === undefined) return;
  const live = await sessions.findLiveSession(db, { id: replaced.session_id }, now);
  const retried =
    live !== undefined &&
    replaced.replaced_by_hash === live.session.token_hash &&
    now - replaced.rotated_at < deps.config.refreshReuseGraceSeconds * 1000 &&
    replaced.rotated_ip !== null &&
    clientNetwork(replaced.rotated_ip) === clientNetwork(ctx.ip);
  if (retried) {
    throw new AppError(
      'INVALID_TOKEN',
      'Refresh token was already used moments ago; continue with the refresh token that replaced it',
    );
  }
  await sessions.revokeSession(db, replaced.session_id, now);
  deps.sessionCache.invalidateSession(replaced.session_id);
  throw new AppError('INVALID_TOKEN', 'Refresh token was already used; its session has been ended, log in again');
}
