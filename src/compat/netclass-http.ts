import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieLogin } from '../accounts/accounts.service.js';
import type { RequestContext, User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { principalOrConnection, rememberConnectionLogin, requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { setSessionCookie } from '../http/session-cookie.js';
import { type Failure, logFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import { jsonObject, rawBody, stringField } from './body.js';

/**
 * Seed 001 (network project) semantics on `/` for non-browser requests: POST logs in, GET returns
 * user data by role, PUT creates a user, HEAD answers the server status. Bodies are JSON
 * ({"email","password"}) or the seed's own `user:<email>,<password>[,<extra>]` line. The rules
 * themselves (createNetclassSemantics) are transport-free: the raw TCP door (netclass.ts) uses them too.
 */

const BODY_LIMIT = 64 * 1024;
export const WELCOME = 'Welcome to Plaza API';

export interface SeedCredentials {
  identifier: string;
  password: string;
  extra?: string | undefined;
}

/** POST's later client appends `,login` or `,signup`; PUT's appends a user id. */
export const POST_EXTRAS = /^(login|signup)$/;
export const PUT_EXTRAS = /^\d{1,18}$/;

/**
 * Parses `user:<email>,<password>[,<extra>]`. Passwords may contain commas: only a last part that
 * is a known extra for the method is taken off.
 */
export function parseUserLine(text: string, extras: RegExp): SeedCredentials | undefined {
  const line = text.split(/\r?\n/).find((l) => l.startsWith('user:'));
  if (!line) return undefined;
  const rest = line.slice('user:'.length);
  const comma = rest.indexOf(',');
  if (comma < 0) return undefined;
  const identifier = rest.slice(0, comma);
  let password = rest.slice(comma + 1);
  let extra: string | undefined;
  const last = password.lastIndexOf(',');
  if (last >= 0) {
    const tail = password.slice(last + 1);
    if (extras.test(tail)) {
      extra = tail;
      password = password.slice(0, last);
    }
  }
  return { identifier, password, extra };
}

async function seedCredentials(request: FastifyRequest, extras: RegExp): Promise<SeedCredentials> {
  const body = await rawBody(request, BODY_LIMIT);
  const asText = body.toString('utf8');
  const fromLine = parseUserLine(asText.trimStart(), extras);
  if (fromLine) return fromLine;
  const obj = jsonObject(body);
  const identifier =
    stringField(obj, 'email', 320) ?? stringField(obj, 'username', 320) ?? stringField(obj, 'identifier', 320);
  const password = stringField(obj, 'password');
  return { identifier: identifier ?? '', password: password ?? '', extra: stringField(obj, 'mode', 20) };
}

/**
 * What a seed 001 request gets, whatever carries it (HTTP on `/` or the raw TCP door): status, a
 * plain-text body, and Retry-After for 429/503. For the log only: `failure` and `cause` on every
 * failure (the HTTP door logs them by the failure's kind), `error` on a fault alone (the TCP door
 * logs it as an error).
 */
export interface SeedAnswer {
  status: number;
  text: string;
  retryAfter?: number | undefined;
  /** Set when the answer is a failure: logged by its kind by the transport that sends it. */
  failure?: Failure;
  cause?: unknown;
}

/**
 * Any failure in the seed's words: `<phrase>: <reason>`. A fault is only `Server Error`; a server
 * that cannot do it right now (busy, disk full, database down) is `Server Error: <why>`.
 */
export function describeFailure(err: unknown): SeedAnswer {
  const m = mapError(err);
  const log = { failure: m, cause: err };
  if (m.kind === 'fault') return { status: m.status, text: 'Server Error', retryAfter: m.retryAfter, ...log };
  if (m.kind === 'unavailable') return { status: m.status, text: `Server Error: ${m.message}`, retryAfter: m.retryAfter, ...log };
  const phrase =
    m.status === 401 ? 'Unauthorized' : m.status === 403 ? 'Forbidden' : m.status === 400 ? 'Bad Request' : m.code;
  return { status: m.status, text: `${phrase}: ${m.message}`, retryAfter: m.retryAfter, ...log };
}

export function publicUserData(u: User) {
  return { id: u.id, username: u.username, email: u.email, role: u.role, disabled: u.disabled };
}

/** Seed 001's rules on top of the account services, free of any transport. */
export function createNetclassSemantics(core: Core) {
  /** Seed 001's rule (length ≤ 1 → 400) is a subset of Plaza's policy, which is applied too. */
  async function createUser(creds: SeedCredentials, ctx: RequestContext, actor?: User) {
    if (creds.identifier.length <= 1 || creds.password.length <= 1) {
      throw new AppError('VALIDATION_FAILED', 'email and password must be longer than 1 character');
    }
    const input = creds.identifier.includes('@')
      ? { email: creds.identifier, password: creds.password }
      : { username: creds.identifier, password: creds.password };
    if (actor?.role === 'admin') return core.accounts.createUser(input);
    return core.accounts.register(input, ctx);
  }

  /** POST: log in (the answer names the role), or register with the later client's `,signup`. */
  async function post(creds: SeedCredentials, ctx: RequestContext): Promise<SeedAnswer & { login?: CookieLogin }> {
    try {
      if (creds.extra === 'signup') {
        await createUser(creds, ctx);
        return { status: 201, text: 'Success create user' };
      }
      if (creds.identifier === '' || creds.password === '') throw new AppError('INVALID_CREDENTIALS', 'missing');
      const user = await core.accounts.verifyCredentials(creds.identifier, creds.password, ctx);
      const login = await core.accounts.startCookieSession(user, ctx);
      return { status: 200, text: `Success Login. you are ${user.role}`, login };
    } catch (err) {
      // The seed answers every failed login alike, a disabled account included.
      const m = mapError(err);
      if (m.status === 401 || m.code === 'ACCOUNT_DISABLED') return { status: 401, text: 'Unauthorized' };
      return describeFailure(err);
    }
  }

  /** PUT: create a user (an admin's connection creates even when registration is closed). */
  async function put(creds: SeedCredentials, ctx: RequestContext, actor?: User): Promise<SeedAnswer> {
    try {
      await createUser(creds, ctx, actor);
      return { status: 201, text: 'Success create user' };
    } catch (err) {
      return describeFailure(err);
    }
  }

  /** GET for a logged-in caller: admins see everyone, a user only themself. Never hashes. */
  async function userData(viewer: User) {
    const { users } = await core.users.listVisible(viewer, 500, 0);
    return { message: WELCOME, role: viewer.role, users: users.map(publicUserData) };
  }

  return { post, put, userData };
}

function send(request: FastifyRequest, reply: FastifyReply, answer: SeedAnswer) {
  if (answer.failure) logFailure(request.log, answer.cause, answer.failure, 'seed 001 request failed');
  if (answer.retryAfter !== undefined) reply.header('retry-after', String(answer.retryAfter));
  return reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.text);
}

export function createNetclassHttp(core: Core) {
  const seed = createNetclassSemantics(core);

  async function post(request: FastifyRequest, reply: FastifyReply) {
    let creds: SeedCredentials;
    try {
      creds = await seedCredentials(request, POST_EXTRAS);
    } catch (err) {
      return send(request, reply, describeFailure(err));
    }
    const answer = await seed.post(creds, requestContext(request));
    if (answer.login) {
      setSessionCookie(core, reply, answer.login);
      rememberConnectionLogin(request, answer.login.sessionId);
    }
    return send(request, reply, answer);
  }

  async function get(request: FastifyRequest, reply: FastifyReply) {
    try {
      const principal = await principalOrConnection(core, request);
      if (!principal) {
        return reply.code(403).send({ message: WELCOME, detail: 'Forbidden', docs: '/docs', health: '/health' });
      }
      return reply.code(200).send(await seed.userData(principal.user));
    } catch (err) {
      return send(request, reply, describeFailure(err));
    }
  }

  async function put(request: FastifyRequest, reply: FastifyReply) {
    let creds: SeedCredentials;
    let actor: User | undefined;
    try {
      creds = await seedCredentials(request, PUT_EXTRAS);
      actor = (await principalOrConnection(core, request))?.user;
    } catch (err) {
      return send(request, reply, describeFailure(err));
    }
    return send(request, reply, await seed.put(creds, requestContext(request), actor));
  }

  async function head(_request: FastifyRequest, reply: FastifyReply) {
    const c = await core.health.check();
    return reply
      .code(c.ok ? 200 : 503)
      .header('x-plaza-status', c.ok ? 'ok' : 'degraded')
      .type('text/plain; charset=utf-8')
      .send();
  }

  return { post, get, put, head };
}
