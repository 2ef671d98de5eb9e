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

/** Whether this connection carries a seed connection-login (it keeps the long keep-alive). */
export function hasConnectionLogin(socket: Socket): boolean {
  return connectionSessions.has(socket);
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
 * Whether `url` is this server. With PLAZA_PUBLIC_URL the whole origin must match; without it
 * only the host does (behind a TLS-terminating proxy the scheme the browser used is unknown here).
 */
function isOwnUrl(core: Core, request: FastifyRequest, url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (core.config.publicUrl) return parsed.origin === new URL(core.config.publicUrl).origin;
  return request.headers.host !== undefined && parsed.host === request.headers.host.toLowerCase();
}

/**
 * CSRF: a browser marks where a request came from (Sec-Fetch-Site, Origin). An unsafe request that
 * a browser says came from another site — or from an opaque origin such as a sandboxed frame — is
 * refused before any handler runs; requests without either header (curl, seed clients, scripts)
 * carry no ambient browser credentials worth forging and pass.
 *
 * A real Origin that is not this server is refused whatever else the request says (no browser
 * sends another origin with `Sec-Fetch-Site: same-origin`). Otherwise Sec-Fetch-Site decides: a
 * page sent with a strict Referrer-Policy makes Chromium send `Origin: null` on its own
 * same-origin form posts, with `Sec-Fetch-Site: same-origin` beside it; `Origin: null` is refused
 * only when the browser does not vouch for the request that way (browsers send no Fetch Metadata
 * to plain-HTTP hosts other than localhost). Returns why the request is refused, or undefined.
 */
export function crossSiteReason(core: Core, request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null' && !isOwnUrl(core, request, origin)) {
    return `Origin ${origin.slice(0, 200)} is not ${ownOrigin(core, request) ?? 'this server'}`;
  }
  const site = request.headers['sec-fetch-site'];
  if (site === 'same-origin' || site === 'none') return undefined;
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`;
  return origin === 'null' ? 'Origin: null (opaque origin)' : undefined;
}

/** Browsers announce themselves in ways a page on another site cannot change. */
function fromBrowser(request: FastifyRequest): boolean {
  const h = request.headers;
  return (
    h['sec-fetch-site'] !== undefined ||
    h['upgrade-insecure-requests'] !== undefined ||
    /\btext\/html\b/i.test(h.accept ?? '') ||
    /^Mozilla\//.test(h['user-agent'] ?? '')
  );
}

/**
 * Whether a GET may have effects for this browser: only with proof that this server's own pages
 * started it (`Sec-Fetch-Site: same-origin` or `none`, or a Referer from this server — Plaza's
 * pages send one to themselves). A browser sends no Fetch Metadata to a plain-HTTP LAN address,
 * and a link can drop its Referer, so the absence of headers proves nothing there. Clients that
 * are not browsers (curl, scripts) carry no cookie another site could use, and pass.
 */
export function isOwnNavigation(core: Core, request: FastifyRequest): boolean {
  if (!fromBrowser(request)) return true;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const referer = request.headers.referer;
  return referer !== undefined && isOwnUrl(core, request, referer);
}

/** For WebSocket upgrades, which carry the page's real Origin whatever its referrer policy. */
export function isCrossSiteRequest(core: Core, request: FastifyRequest): boolean {
  return crossSiteReason(core, request) !== undefined;
}

export function installAuth(app: FastifyInstance, core: Core) {
  app.decorateRequest('principal', null);
  app.decorateRequest('authError', null);
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    const csrf = UNSAFE.has(request.method) ? crossSiteReason(core, request) : undefined;
    if (csrf !== undefined) {
      request.log.warn({ reason: csrf, method: request.method, route: request.routeOptions.url }, 'cross-site request refused');
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
