import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { principalOrConnection, rememberConnectionLogin, requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { setSessionCookie } from '../http/session-cookie.js';
import { logFailure } from '../shared/error-map.js';
import { jsonObject, rawBody, stringField } from './body.js';
import {
  createNetclassSemantics,
  parseUserLine,
  POST_EXTRAS,
  PUT_EXTRAS,
  type SeedAnswer,
  type SeedCredentials,
  seedFailure,
  WELCOME,
} from './netclass/semantics.js';

/**
 * Seed 001 (network project) over HTTP on `/` for non-browser requests: POST logs in, GET returns
 * user data by role, PUT creates a user, HEAD answers the server status. Bodies are JSON
 * ({"email","password"}) or the seed's own `user:<email>,<password>[,<extra>]` line. The rules
 * themselves are transport-free (netclass/semantics.ts): the raw TCP door (netclass/) uses them too.
 */

const BODY_LIMIT = 64 * 1024;
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
      return send(request, reply, seedFailure(err, mapError(err)));
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
      return send(request, reply, seedFailure(err, mapError(err)));
    }
  }

  async function put(request: FastifyRequest, reply: FastifyReply) {
    let creds: SeedCredentials;
    let actor: User | undefined;
    try {
      creds = await seedCredentials(request, PUT_EXTRAS);
      actor = (await principalOrConnection(core, request))?.user;
    } catch (err) {
      return send(request, reply, seedFailure(err, mapError(err)));
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
