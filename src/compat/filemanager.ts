import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import { sendFile } from '../files/downloads.js';
import type { FileInfo } from '../files/files.service.js';
import { closeAfterUploadError, receiveMultipart, receiveRaw } from '../files/upload-intake.js';
import { forgetConnectionLogin, isOwnNavigation, principalOrConnection, requestContext } from '../http/auth.js';
import { mapError, sendNativeError } from '../http/errors.js';
import { clearSessionCookie, setSessionCookie } from '../http/session-cookie.js';
import { logFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import { logoutConfirmPage, safeNext } from '../http/web.js';
import { formFields, rawBody, wantsHtml } from './body.js';

/**
 * Seed 002 (file manager): URL-encoded form posts to /register and /login, GET or POST /logout.
 * Browsers are redirected (success → next page, failure → back to the form with a message);
 * other clients get a status and a short text.
 */

const BODY_LIMIT = 64 * 1024;

function fields(body: Buffer, retry: Retry) {
  const f = formFields(body);
  const username = f.get('username') ?? '';
  const password = f.get('password') ?? '';
  retry.username = username;
  retry.next = safeNext(f.get('next'));
  if (username === '' || password === '') throw new AppError('VALIDATION_FAILED', 'Username and password are required');
  return { username, password, email: f.get('email') ?? undefined, next: safeNext(f.get('next')) };
}

/** Where a failed form goes back to: the message, the name typed (kept in the field) and `next`. */
interface Retry {
  username?: string | undefined;
  next?: string | undefined;
}

/** The form field a failure is about, shown beside it on the page; none for the form as a whole. */
function fieldOf(code: string, message: string): 'username' | 'email' | 'password' | undefined {
  if (code === 'USERNAME_TAKEN' || (code === 'VALIDATION_FAILED' && message.startsWith('Username'))) return 'username';
  if (code === 'EMAIL_TAKEN' || (code === 'VALIDATION_FAILED' && message.startsWith('Email'))) return 'email';
  if (code === 'VALIDATION_FAILED' && message.startsWith('Password')) return 'password';
  return undefined;
}

/** "try again in 45 seconds" / "in 3 minutes": what a person reads instead of a Retry-After. */
function waitWords(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

function failure(request: FastifyRequest, reply: FastifyReply, err: unknown, page: '/login' | '/register' | '/index', retry: Retry = {}) {
  const m = mapError(err);
  logFailure(request.log, err, m, 'seed 002 request failed');
  if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
  // Only a fault is masked: a busy server, a full disk or a lost database says so.
  const message = m.kind === 'fault' ? 'Something went wrong; try again' : m.message;
  if (wantsHtml(request)) {
    // A person is told how long to wait; clients that are not browsers keep the plain sentence.
    const shown = m.code === 'RATE_LIMITED' && m.retryAfter !== undefined ? `Too many attempts; try again in ${waitWords(m.retryAfter)}` : message;
    let q = `error=${encodeURIComponent(shown)}`;
    const field = fieldOf(m.code, message);
    if (field) q += `&field=${field}`;
    if (retry.username) q += `&username=${encodeURIComponent(retry.username.slice(0, 320))}`;
    if (retry.next) q += `&next=${encodeURIComponent(retry.next)}`;
    return reply.redirect(`${page}?${q}`, 303);
  }
  return reply.code(m.status).type('text/plain; charset=utf-8').send(message);
}

export function createFileManager(core: Core) {
  async function register(request: FastifyRequest, reply: FastifyReply) {
    const retry: Retry = {};
    try {
      const f = fields(await rawBody(request, BODY_LIMIT), retry);
      await core.accounts.register({ username: f.username, password: f.password, email: f.email }, requestContext(request));
      const next = f.next ? `&next=${encodeURIComponent(f.next)}` : '';
      if (wantsHtml(request)) return reply.redirect(`/login?registered=1${next}`, 303);
      return reply.code(201).type('text/plain; charset=utf-8').send('Registration successful. Please log in.');
    } catch (err) {
      return failure(request, reply, err, '/register', retry);
    }
  }

  async function login(request: FastifyRequest, reply: FastifyReply) {
    const retry: Retry = {};
    try {
      const f = fields(await rawBody(request, BODY_LIMIT), retry);
      const user = await core.accounts.verifyCredentials(f.username, f.password, requestContext(request));
      setSessionCookie(core, reply, await core.accounts.startCookieSession(user, requestContext(request)));
      if (wantsHtml(request)) return reply.redirect(f.next ?? '/index', 303);
      return reply.code(200).type('text/plain; charset=utf-8').send(`Logged in as ${user.username}`);
    } catch (err) {
      return failure(request, reply, err, '/login', retry);
    }
  }

  async function logout(request: FastifyRequest, reply: FastifyReply) {
    // A GET another site may have started (a link or an image, which SameSite=Lax cookies follow
    // on top-level navigations) must not end the session: it gets a page with a same-origin button.
    // HEAD is never an action (a page on a same-site origin can send one with the cookie).
    if (request.method === 'HEAD' || (request.method === 'GET' && !isOwnNavigation(core, request))) {
      return logoutConfirmPage(reply);
    }
    if (request.principal) await core.accounts.logout(request.principal.sessionId, { user: request.principal.user, ip: request.ip });
    forgetConnectionLogin(request);
    clearSessionCookie(core, reply);
    if (wantsHtml(request)) return reply.redirect('/', 303);
    return reply.code(200).type('text/plain; charset=utf-8').send('Logged out');
  }

  /** Upload, download and listing need a login: browsers go to the login page, others get 401. */
  async function owner(request: FastifyRequest, reply: FastifyReply) {
    const p = await principalOrConnection(core, request);
    if (p) return p.user;
    if (wantsHtml(request)) {
      await reply.redirect('/login', 303);
      return undefined;
    }
    await sendNativeError(request, reply, new AppError('UNAUTHENTICATED', 'Log in first'));
    return undefined;
  }

  /** POST /upload: multipart field `file`, or the raw body with `File-Name` (and `File-Size`). */
  async function upload(request: FastifyRequest, reply: FastifyReply) {
    const user = await owner(request, reply);
    if (!user) return reply;
    let stored: FileInfo[];
    try {
      stored = request.isMultipart()
        ? await receiveMultipart(core, request, user, 'file')
        : [await receiveRaw(core, request, user)];
    } catch (err) {
      if (!wantsHtml(request)) throw err;
      // The file manager page shows what went wrong instead of a JSON error page.
      closeAfterUploadError(request, reply);
      return failure(request, reply, err, '/index');
    }
    if (wantsHtml(request)) {
      return reply.redirect(`/index?uploaded=${encodeURIComponent(stored.map((f) => f.name).join(', '))}`, 303);
    }
    return reply.code(200).send({
      message: 'File uploaded successfully',
      filename: stored[0]?.name,
      files: stored.map((f) => ({ id: f.id, name: f.name, size: f.size, sha256: f.sha256 })),
    });
  }

  /** GET /download/<filename>: by the name it was uploaded under (or its stored name). */
  async function download(request: FastifyRequest, reply: FastifyReply) {
    const user = await owner(request, reply);
    if (!user) return reply;
    const name = (request.params as { filename: string }).filename;
    return sendFile(core.files, request, reply, await core.files.findVisibleByName(user, name));
  }

  /** GET /files: {"files": [names…]}, newest first. */
  async function list(request: FastifyRequest, reply: FastifyReply) {
    const user = await owner(request, reply);
    if (!user) return reply;
    const { files } = await core.files.list(user, { limit: 500 });
    return reply.send({ files: files.map((f) => f.name) });
  }

  return { register, login, logout, upload, download, list };
}
