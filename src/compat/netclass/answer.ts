import type { RequestContext } from '../../accounts/model.js';
import { describeFailure, logFailure } from '../../shared/error-map.js';
import { POST_EXTRAS, PUT_EXTRAS, type SeedAnswer } from './semantics.js';
import type { NetclassContext } from './context.js';
import { fromAnswer, type Reply } from './reply.js';
import { credentials } from './requests.js';

/**
 * One seed 001 request → its reply, by method: HEAD the server status, GET the caller's user data,
 * POST a login (or `,signup`), PUT a new user. Login state belongs to the connection (`sessionId`).
 */

/** The connection a request arrives on. */
export interface Caller {
  readonly door: NetclassContext;
  readonly ctx: RequestContext;
  sessionId: string | undefined;
}

const METHODS = 'GET, HEAD, POST, PUT';
const NO_USER_LINE = 'Bad Request: send a line user:<email>,<password>';

export async function answer(c: Caller, request: string): Promise<Reply> {
  const { core, seed } = c.door;
  const method = /^\S+/.exec(request)?.[0] ?? '';
  switch (method) {
    case 'HEAD': {
      const h = await core.health.check();
      return { status: h.ok ? 200 : 503, noBody: true, headers: [['X-Plaza-Status', h.ok ? 'ok' : 'degraded']] };
    }
    case 'GET': {
      const principal = await current(c);
      if (!principal) return { status: 403, body: 'Forbidden' };
      const data = await seed.userData(principal.user);
      return { status: 200, body: JSON.stringify(data), type: 'application/json; charset=utf-8' };
    }
    case 'POST':
      return post(c, request);
    case 'PUT': {
      const creds = credentials(request, PUT_EXTRAS);
      if (!creds) return { status: 400, body: NO_USER_LINE };
      return told(c, await seed.put(creds, c.ctx, (await current(c))?.user));
    }
  }
  if (/^[A-Z]{1,20}$/.test(method)) {
    return { status: 405, body: `Method Not Allowed: seed 001 speaks ${METHODS}`, headers: [['Allow', METHODS]] };
  }
  return { status: 400, body: 'Bad Request: expected a request line such as "GET / HTTP/1.1"' };
}

async function post(c: Caller, request: string): Promise<Reply> {
  const creds = credentials(request, POST_EXTRAS);
  if (!creds) return { status: 400, body: NO_USER_LINE };
  const a = await c.door.seed.post(creds, c.ctx);
  if (a.login) {
    const previous = c.sessionId;
    c.sessionId = a.login.sessionId;
    // A failed logout leaves the old session to expire; the new login still stands.
    if (previous) {
      await c.door.core.accounts.logout(previous).catch((err: unknown) => logFailure(c.door.log, err, describeFailure(err), 'logout failed'));
    }
  }
  return told(c, a);
}

/** The caller's login on this connection, if it still holds. */
async function current(c: Caller) {
  if (!c.sessionId) return undefined;
  const p = await c.door.core.accounts.authenticateSession(c.sessionId);
  if (!p) c.sessionId = undefined;
  return p;
}

/** An answer of the shared semantics; the failure it carries is logged by its kind. */
export function told(c: Caller, a: SeedAnswer): Reply {
  if (a.failure) logFailure(c.door.log, a.cause, a.failure, 'seed 001 TCP request failed');
  return fromAnswer(a);
}
