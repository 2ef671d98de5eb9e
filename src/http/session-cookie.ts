import type { FastifyReply } from 'fastify';
import type { CookieLogin } from '../accounts/accounts.service.js';
import type { Core } from '../app.js';
import { SESSION_COOKIE } from './auth.js';

/** The browser session's cookie (HttpOnly, SameSite=Lax), set by every front door that logs a browser in. */
export function setSessionCookie(core: Core, reply: FastifyReply, login: CookieLogin) {
  reply.setCookie(SESSION_COOKIE, login.sessionToken, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: core.config.cookieSecure,
    maxAge: Math.floor((login.expiresAt - core.clock.now()) / 1000),
  });
}

export function clearSessionCookie(core: Core, reply: FastifyReply) {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: core.config.cookieSecure });
}
