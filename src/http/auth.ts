import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, RequestContext } from '../accounts/model.js';
import type { Core } from '../app.js';
import { AppError } from '../shared/errors.js';

export const SESSION_COOKIE = 'plaza_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook when a credential was presented and is valid. */
    principal: Principal | null;
    /** Why a presented credential was rejected (expired token…), for a precise 401. */
    authError: AppError | null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Logins made on one keep-alive connection (seed 000's client never sends its cookie): the socket
 * remembers the session it logged in, and the session is re-checked on every use.
 */
const connectionSessions = new WeakMap<Socket, string>();

function isProxied(request: FastifyRequest): boolean {
  const h = request.headers;
  return h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h.via !== undefined;
}

export function rememberConnectionLogin(request: FastifyRequest, sessionId: string) {
  if (isProxied(request)) return;
  connectionSessions.set(request.raw.socket, sessionId);
}

export function forgetConnectionLogin(request: FastifyRequest) {
  connectionSessions.delete(request.raw.socket);
}

export function requestContext(request: FastifyRequest): RequestContext {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

/** The caller, or UNAUTHENTICATED / the precise token error. */
export function requireUser(request: FastifyRequest): Principal {
  if (request.principal) return request.principal;
  throw request.authError ?? new AppError('UNAUTHENTICATED', 'Log in first: send a bearer token or a session cookie');
}

export function requireAdmin(request: FastifyRequest): Principal {
  const p = requireUser(request);
  if (p.user.role !== 'admin') throw new AppError('FORBIDDEN', 'Admins only');
  return p;
}

/** The caller from a cookie, bearer token or — for seed protocols — a login on this connection. */
export async function principalOrConnection(core: Core, request: FastifyRequest): Promise<Principal | null> {
  if (request.principal) return request.principal;
  // A proxy may pool one upstream connection for many clients: never trust a connection login there.
  if (!core.config.connectionLogin || isProxied(request)) return null;
  const sessionId = connectionSessions.get(request.raw.socket);
  if (!sessionId) return null;
  const p = await core.accounts.authenticateSession(sessionId);
  if (!p) connectionSessions.delete(request.raw.socket);
  return p ?? null;
}

/** Seed 000 presents its key as cookie `key`, header X-Plaza-Key, or a `Set-Cookie` request header. */
export function presentedAccessKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-plaza-key'];
  if (typeof header === 'string' && header !== '') return header.trim();
  const cookie = request.cookies?.key;
  if (cookie) return cookie;
  const setCookie = request.headers['set-cookie'];
  for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const m = /(?:^|;\s*)key=([^;\s]+)/.exec(line);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

function ownOrigin(core: Core, request: FastifyRequest): string | undefined {
  if (core.config.publicUrl) return new URL(core.config.publicUrl).origin;
  const host = request.headers.host;
  return host ? `${request.protocol}://${host}` : undefined;
}

/**
 * CSRF: a browser marks cross-site requests (Sec-Fetch-Site, Origin). An unsafe request that a
 * browser says came from another site is refused before any handler runs.
 */
export function isCrossSiteRequest(core: Core, request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  return origin === 'null' || origin !== ownOrigin(core, request);
}

export function installAuth(app: FastifyInstance, core: Core) {
  app.decorateRequest('principal', null);
  app.decorateRequest('authError', null);
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    if (UNSAFE.has(request.method) && isCrossSiteRequest(core, request)) {
      throw new AppError('CSRF_REJECTED', 'Cross-site request refused');
    }
    const auth = request.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m?.[1]) {
        request.authError = new AppError('INVALID_TOKEN', 'Authorization header must be "Bearer <token>"');
        return;
      }
      try {
        request.principal = await core.accounts.authenticateBearer(m[1]);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        request.authError = err;
      }
      return;
    }
    const cookie = request.cookies?.[SESSION_COOKIE];
    if (cookie) {
      request.principal = (await core.accounts.authenticateCookie(cookie)) ?? null;
      if (!request.principal) request.authError = new AppError('UNAUTHENTICATED', 'Session has expired; log in again');
    }
  });
}
