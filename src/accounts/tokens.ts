import { hkdfSync } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../shared/errors.js';

/** Bearer access tokens: HS256 JWTs bound to a session row so logout and password changes revoke them. */
export interface AccessClaims {
  userId: number;
  sessionId: string;
  expiresAt: number;
}

const ISSUER = 'plaza';
/** Signature checks remembered per token string; revocation is still checked on every request. */
const VERIFIED_CACHE_SIZE = 10_000;
const AUDIENCE = 'plaza-api';

export interface TokenSigner {
  sign(userId: number, sessionId: string, nowMs: number): Promise<{ token: string; expiresAt: number }>;
  verify(token: string, nowMs: number): Promise<AccessClaims>;
  readonly ttlSeconds: number;
}

export function createTokenSigner(secret: string, ttlSeconds: number): TokenSigner {
  const raw = new Uint8Array(hkdfSync('sha256', secret, 'plaza', 'access-token-hs256', 32));
  // Imported once: handing jose raw bytes makes it import a key on every call.
  const key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const verified = new Map<string, AccessClaims>();
  return {
    ttlSeconds,
    async sign(userId, sessionId, nowMs) {
      const iat = Math.floor(nowMs / 1000);
      const exp = iat + ttlSeconds;
      const token = await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(String(userId))
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(await key);
      return { token, expiresAt: exp * 1000 };
    },
    async verify(token, nowMs) {
      // The same token string was already checked: only its expiry can have changed since.
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > nowMs) return known;
        verified.delete(token);
        throw new AppError('INVALID_TOKEN', 'Access token has expired');
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat', 'sid'],
          currentDate: new Date(nowMs),
          // Caps the lifetime even if a token was minted with a longer exp.
          maxTokenAge: ttlSeconds + 60,
        });
        const userId = Number(payload.sub);
        if (!Number.isSafeInteger(userId) || typeof payload.sid !== 'string' || payload.exp === undefined) {
          throw new AppError('INVALID_TOKEN', 'Access token is malformed');
        }
        const claims = { userId, sessionId: payload.sid, expiresAt: payload.exp * 1000 };
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
        verified.set(token, claims);
        return claims;
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw new AppError('INVALID_TOKEN', 'Access token has expired');
        throw new AppError('INVALID_TOKEN', 'Access token is invalid');
      }
    },
  };
}
