import type { FastifyReply, FastifyRequest } from 'fastify';
import { setSessionCookie } from '../accounts/accounts.routes.js';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { principalOrConnection, rememberConnectionLogin, requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { AppError } from '../shared/errors.js';
import { jsonObject, rawBody, stringField } from './body.js';

/**
 * Seed 001 (network project) semantics on `/` for non-browser requests: POST logs in, GET returns
 * user data by role, PUT creates a user, HEAD answers the server status. Bodies are JSON
 * ({"email","password"}) or the seed's own `user:<email>,<password>[,<extra>]` line.
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

function text(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(body);
}

function fail(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const m = mapError(err);
  if (m.status >= 500) request.log.error({ err }, 'seed 001 request failed');
  if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
  const phrase =
    m.status === 401 ? 'Unauthorized' : m.status === 403 ? 'Forbidden' : m.status === 400 ? 'Bad Request' : m.code;
  return text(reply, m.status, m.status >= 500 ? 'Server Error' : `${phrase}: ${m.message}`);
}

export function publicUserData(u: User) {
  return { id: u.id, username: u.username, email: u.email, role: u.role, disabled: u.disabled };
}

export function createNetclassHttp(core: Core) {
  /** Seed 001's rule (length ≤ 1 → 400) is a subset of Plaza's policy, which is applied too. */
  async function createUser(creds: SeedCredentials, request: FastifyRequest, actor?: User) {
    if (creds.identifier.length <= 1 || creds.password.length <= 1) {
      throw new AppError('VALIDATION_FAILED', 'email and password must be longer than 1 character');
    }
    const input = creds.identifier.includes('@')
      ? { email: creds.identifier, password: creds.password }
      : { username: creds.identifier, password: creds.password };
    if (actor?.role === 'admin') return core.accounts.createUser(input);
    return core.accounts.register(input, requestContext(request));
  }

  async function post(request: FastifyRequest, reply: FastifyReply) {
    try {
      const creds = await seedCredentials(request, POST_EXTRAS);
      if (creds.extra === 'signup') {
        await createUser(creds, request);
        return text(reply, 201, 'Success create user');
      }
      if (creds.identifier === '' || creds.password === '') throw new AppError('INVALID_CREDENTIALS', 'missing');
      const user = await core.accounts.verifyCredentials(creds.identifier, creds.password, requestContext(request));
      const session = await core.accounts.startCookieSession(user, requestContext(request));
      setSessionCookie(core, reply, session);
      rememberConnectionLogin(request, session.sessionId);
      return text(reply, 200, `Success Login. you are ${user.role}`);
    } catch (err) {
      const m = mapError(err);
      if (m.status === 401 || m.code === 'ACCOUNT_DISABLED') return text(reply, 401, 'Unauthorized');
      return fail(request, reply, err);
    }
  }

  async function get(request: FastifyRequest, reply: FastifyReply) {
    try {
      const principal = await principalOrConnection(core, request);
      if (!principal) {
        return reply.code(403).send({ message: WELCOME, detail: 'Forbidden', docs: '/docs', health: '/health' });
      }
      const { users } = await core.users.listVisible(principal.user, 500, 0);
      return reply.code(200).send({ message: WELCOME, role: principal.user.role, users: users.map(publicUserData) });
    } catch (err) {
      return fail(request, reply, err);
    }
  }

  async function put(request: FastifyRequest, reply: FastifyReply) {
    try {
      const creds = await seedCredentials(request, PUT_EXTRAS);
      const actor = (await principalOrConnection(core, request))?.user;
      await createUser(creds, request, actor);
      return text(reply, 201, 'Success create user');
    } catch (err) {
      return fail(request, reply, err);
    }
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
