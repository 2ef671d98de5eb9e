import type { CookieLogin } from '../../accounts/accounts.service.js';
import type { RequestContext, User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import { describeFailure, type Failure } from '../../shared/error-map.js';
import { AppError } from '../../shared/errors.js';

/**
 * Seed 001's rules, free of any transport: the HTTP door on `/` (compat/netclass-http.ts) and the
 * raw TCP door (netclass/) both answer with them. Its request lines, its answers (status, the
 * seed's plain words, Retry-After) and a failure in those words.
 */

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

/**
 * What a seed 001 request gets, whatever carries it (HTTP on `/` or the raw TCP door): status, a
 * plain-text body, and Retry-After for 429/503. For the log only: `failure` and `cause` on every
 * failure (each door logs them by the failure's kind).
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
 * that cannot do it right now (busy, disk full, database down) is `Server Error: <why>`. `m` is the
 * failure as the transport sees it (HTTP also knows its framework's errors: http/errors.ts mapError).
 */
export function seedFailure(err: unknown, m: Failure = describeFailure(err)): SeedAnswer {
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
      const m = describeFailure(err);
      if (m.status === 401 || m.code === 'ACCOUNT_DISABLED') return { status: 401, text: 'Unauthorized' };
      return seedFailure(err, m);
    }
  }

  /** PUT: create a user (an admin's connection creates even when registration is closed). */
  async function put(creds: SeedCredentials, ctx: RequestContext, actor?: User): Promise<SeedAnswer> {
    try {
      await createUser(creds, ctx, actor);
      return { status: 201, text: 'Success create user' };
    } catch (err) {
      return seedFailure(err);
    }
  }

  /** GET for a logged-in caller: admins see everyone, a user only themself. Never hashes. */
  async function userData(viewer: User) {
    const { users } = await core.users.listVisible(viewer, 500, 0);
    return { message: WELCOME, role: viewer.role, users: users.map(publicUserData) };
  }

  return { post, put, userData };
}
