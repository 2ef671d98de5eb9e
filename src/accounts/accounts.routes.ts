import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../app.js';
import {
  forgetConnectionLogin,
  presentedAccessKey,
  requestContext,
  requireUser,
} from '../http/auth.js';
import { errors } from '../http/schemas.js';
import { clearSessionCookie, setSessionCookie } from '../http/session-cookie.js';
import { AppError } from '../shared/errors.js';
import {
  CookieLoginReply,
  ElevateReply,
  ElevationStatus,
  LoginBody,
  MeReply,
  RefreshBody,
  RegisterBody,
  SessionParams,
  SessionSchema,
  SetupBody,
  TokenPair,
  UserRef,
} from './accounts.schemas.js';
import type { TokenLogin } from './accounts.service.js';

export function tokenReply(core: Core, t: TokenLogin) {
  return {
    user: t.user,
    tokenType: 'Bearer' as const,
    accessToken: t.accessToken,
    expiresIn: core.config.accessTokenTtlSeconds,
    accessTokenExpiresAt: t.accessTokenExpiresAt,
    refreshToken: t.refreshToken,
    refreshTokenExpiresAt: t.refreshTokenExpiresAt,
  };
}

const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>();
type Routes = ReturnType<typeof typed>;
const tags = ['auth'];

/** Native /api/auth routes: register, login, refresh, logout, who-am-I, sessions, elevation, setup. */
export async function accountsRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const r = typed(app);
  loginRoutes(r, core);
  sessionRoutes(r, core);
  elevationRoutes(r, core);
  setupRoutes(r, core);
}

/** Register, login, refresh, logout. */
function loginRoutes(r: Routes, core: Core) {
  r.post(
    '/auth/register',
    {
      schema: {
        tags,
        summary: 'Create an account (when registration is open)',
        body: RegisterBody,
        response: { 201: Type.Object({ user: UserRef }), ...errors(400, 403, 409, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = await core.accounts.register(request.body, requestContext(request));
      return reply.code(201).send({ user });
    },
  );

  r.post(
    '/auth/login',
    {
      schema: {
        tags,
        summary: 'Log in with username or email; returns bearer + refresh token, or sets a session cookie',
        body: LoginBody,
        response: { 200: Type.Union([TokenPair, CookieLoginReply]), ...errors(400, 401, 403, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const identifier = b.identifier ?? b.username ?? b.email;
      if (identifier === undefined) throw new AppError('VALIDATION_FAILED', 'body is missing the field "identifier"');
      const user = await core.accounts.verifyCredentials(identifier, b.password, requestContext(request));
      if (b.session === 'cookie') {
        const login = await core.accounts.startCookieSession(user, requestContext(request));
        setSessionCookie(core, reply, login);
        return { user, sessionExpiresAt: login.expiresAt };
      }
      return tokenReply(core, await core.accounts.startTokenSession(user, requestContext(request)));
    },
  );

  r.post(
    '/auth/refresh',
    {
      schema: {
        tags,
        summary: 'Exchange a refresh token for a new access token (the refresh token rotates)',
        body: RefreshBody,
        response: { 200: TokenPair, ...errors(400, 401, 415) },
      },
    },
    async (request) => tokenReply(core, await core.accounts.refresh(request.body.refreshToken, requestContext(request))),
  );

  r.post(
    '/auth/logout',
    {
      schema: {
        tags,
        summary: 'End the current session (cookie or bearer)',
        response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(401) },
      },
    },
    async (request, reply) => {
      const p = requireUser(request);
      await core.accounts.logout(p.sessionId, { user: p.user, ip: request.ip });
      forgetConnectionLogin(request);
      clearSessionCookie(core, reply);
      return { ok: true as const };
    },
  );

}

/** Who am I, and the caller's sessions. */
function sessionRoutes(r: Routes, core: Core) {
  r.get(
    '/auth/me',
    {
      schema: { tags, summary: 'Who am I', response: { 200: MeReply, ...errors(401) } },
    },
    async (request) => {
      const p = requireUser(request);
      const key = await core.elevation.activeKeyOf(p.user.id);
      return {
        user: p.user,
        via: p.via,
        sessionId: p.sessionId,
        accessKey: { active: key !== undefined, expiresAt: key?.expiresAt ?? null },
      };
    },
  );

  r.get(
    '/auth/sessions',
    {
      schema: {
        tags,
        summary: "The caller's live sessions",
        response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), ...errors(401) },
      },
    },
    async (request) => ({ sessions: await core.accounts.listSessions(requireUser(request)) }),
  );

  r.delete(
    '/auth/sessions/:id',
    {
      schema: {
        tags,
        summary: 'End one of your sessions (e.g. a lost device)',
        params: SessionParams,
        response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors(401, 404) },
      },
    },
    async (request) => {
      await core.accounts.revokeOwnSession(requireUser(request), request.params.id);
      return { ok: true as const };
    },
  );

}

/** Seed 000's access keys, natively. */
function elevationRoutes(r: Routes, core: Core) {
  r.post(
    '/auth/elevate',
    {
      schema: {
        tags,
        summary: 'Get an access key (1 hour) that unlocks protected resources; 409 while one is valid',
        response: { 201: ElevateReply, ...errors(401, 409, 429) },
      },
    },
    async (request, reply) => {
      const p = requireUser(request);
      const issued = await core.elevation.elevate(p.user, requestContext(request));
      const secure = core.config.cookieSecure ? '; Secure' : '';
      reply.header('set-cookie', `key=${issued.key}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax${secure}`);
      return reply.code(201).send(issued);
    },
  );

  r.get(
    '/auth/elevation',
    {
      schema: {
        tags,
        summary: 'Check the presented access key (cookie key, X-Plaza-Key or Set-Cookie request header)',
        response: { 200: ElevationStatus },
      },
    },
    async (request) => {
      const key = presentedAccessKey(request);
      const found = key ? await core.elevation.checkKey(key) : undefined;
      // A key is bound to its user: when a login is also presented, they must match.
      const valid = found !== undefined && (!request.principal || request.principal.user.id === found.userId);
      return {
        valid,
        expiresAt: valid ? (found?.expiresAt ?? null) : null,
        userId: valid ? (found?.userId ?? null) : null,
      };
    },
  );

}

/** The first admin, with the one-time setup token. */
function setupRoutes(r: Routes, core: Core) {
  r.post(
    '/setup',
    {
      schema: {
        tags: ['setup'],
        summary: 'Create the first admin with the one-time setup token printed at first start',
        body: SetupBody,
        response: { 201: Type.Object({ user: UserRef }), ...errors(400, 401, 403, 409, 415) },
      },
    },
    async (request, reply) => {
      const { token, ...input } = request.body;
      const user = await core.setup.completeSetup(token, input);
      return reply.code(201).send({ user });
    },
  );
}
