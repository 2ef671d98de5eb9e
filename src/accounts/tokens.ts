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
const AUDIENCE = 'plaza-api';

export interface TokenSigner {
  sign(userId: number, sessionId: string, nowMs: number): Promise<{ token: string; expiresAt: number }>;
  verify(token: string, nowMs: number): Promise<AccessClaims>;
  readonly ttlSeconds: number;
}

export function createTokenSigner(secret: string, ttlSeconds: number): TokenSigner {
  const key = new Uint8Array(hkdfSync('sha256', secret, 'plaza', 'access-token-hs256', 32));
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
        .sign(key);
      return { token, expiresAt: exp * 1000 };
    },
    async verify(token, nowMs) {
      try {
        const { payload } = await jwtVerify(token, key, {
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
        return { userId, sessionId: payload.sid, expiresAt: payload.exp * 1000 };
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw new AppError('INVALID_TOKEN', 'Access token has expired');
        throw new AppError('INVALID_TOKEN', 'Access token is invalid');
      }
    },
  };
}
