import type { FastifyReply, FastifyRequest } from 'fastify';
import { clearSessionCookie, setSessionCookie } from '../accounts/accounts.routes.js';
import type { Core } from '../app.js';
import { forgetConnectionLogin, requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { AppError } from '../shared/errors.js';
import { formFields, rawBody, wantsHtml } from './body.js';

/**
 * Seed 002 (file manager): URL-encoded form posts to /register and /login, GET or POST /logout.
 * Browsers are redirected (success → next page, failure → back to the form with a message);
 * other clients get a status and a short text.
 */

const BODY_LIMIT = 64 * 1024;

function fields(body: Buffer) {
  const f = formFields(body);
  const username = f.get('username') ?? '';
  const password = f.get('password') ?? '';
  if (username === '' || password === '') throw new AppError('VALIDATION_FAILED', 'Username and password are required');
  return { username, password, email: f.get('email') ?? undefined };
}

function failure(request: FastifyRequest, reply: FastifyReply, err: unknown, page: '/login' | '/register') {
  const m = mapError(err);
  if (m.status >= 500) request.log.error({ err }, 'seed 002 request failed');
  if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
  const message = m.status >= 500 ? 'Something went wrong; try again' : m.message;
  if (wantsHtml(request)) return reply.redirect(`${page}?error=${encodeURIComponent(message)}`, 303);
  return reply.code(m.status).type('text/plain; charset=utf-8').send(message);
}

export function createFileManager(core: Core) {
  async function register(request: FastifyRequest, reply: FastifyReply) {
    try {
      const f = fields(await rawBody(request, BODY_LIMIT));
      await core.accounts.register(f, requestContext(request));
      if (wantsHtml(request)) return reply.redirect('/login?registered=1', 303);
      return reply.code(201).type('text/plain; charset=utf-8').send('Registration successful. Please log in.');
    } catch (err) {
      return failure(request, reply, err, '/register');
    }
  }

  async function login(request: FastifyRequest, reply: FastifyReply) {
    try {
      const f = fields(await rawBody(request, BODY_LIMIT));
      const user = await core.accounts.verifyCredentials(f.username, f.password, requestContext(request));
      setSessionCookie(core, reply, await core.accounts.startCookieSession(user, requestContext(request)));
      if (wantsHtml(request)) return reply.redirect('/index', 303);
      return reply.code(200).type('text/plain; charset=utf-8').send(`Logged in as ${user.username}`);
    } catch (err) {
      return failure(request, reply, err, '/login');
    }
  }

  async function logout(request: FastifyRequest, reply: FastifyReply) {
    if (request.principal) await core.accounts.logout(request.principal.sessionId);
    forgetConnectionLogin(request);
    clearSessionCookie(core, reply);
    if (wantsHtml(request)) return reply.redirect('/', 303);
    return reply.code(200).type('text/plain; charset=utf-8').send('Logged out');
  }

  return { register, login, logout };
}
