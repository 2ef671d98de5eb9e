import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { sendFile } from '../files/downloads.js';
import type { FileInfo } from '../files/files.service.js';
import { receiveMultipart } from '../files/upload-intake.js';
import { logFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import { formFields, jsonObject, rawBody, stringField } from './body.js';

/**
 * Seed 004 (Adcluster, a FastAPI server): its JSON shapes, `{"detail": …}` errors, 422 for
 * validation, bearer tokens from /auth/login and /auth/token, and /health.
 */

const BODY_LIMIT = 64 * 1024;

const DETAIL: Partial<Record<string, string>> = {
  INVALID_CREDENTIALS: 'Incorrect email or password',
  ACCOUNT_DISABLED: 'Incorrect email or password',
  USERNAME_TAKEN: 'Username already registered',
  EMAIL_TAKEN: 'Email already registered',
  UNAUTHENTICATED: 'Not authenticated',
  INVALID_TOKEN: 'Could not validate credentials',
  NOT_FOUND: 'Not found',
  FILE_TOO_LARGE: 'File too large',
  QUOTA_EXCEEDED: 'Storage quota exceeded',
  FORBIDDEN: 'Not enough permissions',
};

/** Shape seed 004's clients read (uname/uemail), with Plaza's own names alongside. */
export function adclusterUser(u: User) {
  return {
    id: u.id,
    uname: u.username,
    uemail: u.email,
    username: u.username,
    email: u.email,
    role: u.role,
    is_active: !u.disabled,
    created_at: new Date(u.createdAt).toISOString(),
  };
}

function fail(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const m = mapError(err);
  logFailure(request.log, err, m, 'seed 004 request failed');
  if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
  // A disabled account answers like a wrong password: seed 004's clients know only that 401.
  if (m.code === 'ACCOUNT_DISABLED') m.status = 401;
  if (m.status === 401) reply.header('www-authenticate', 'Bearer');
  // FastAPI answers malformed input with 422 and a list of problems.
  // FastAPI's register answers a taken name or email with 400.
  if (m.code === 'USERNAME_TAKEN' || m.code === 'EMAIL_TAKEN') return reply.code(400).send({ detail: DETAIL[m.code] });
  if (m.code === 'VALIDATION_FAILED' || m.code === 'INVALID_JSON') {
    return reply.code(422).send({ detail: [{ loc: ['body'], msg: m.message, type: 'value_error' }] });
  }
  // Only a fault is masked; an unavailable server (database down, disk full, busy) says so.
  return reply.code(m.status).send({ detail: m.kind === 'fault' ? 'Internal Server Error' : (DETAIL[m.code] ?? m.message) });
}

function requireBearer(request: FastifyRequest) {
  if (request.principal) return request.principal;
  throw request.authError ?? new AppError('UNAUTHENTICATED', 'Not authenticated');
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

function seedRoute(app: FastifyInstance, method: 'GET' | 'POST', url: string | string[], handler: Handler) {
  for (const u of Array.isArray(url) ? url : [url]) {
    app.route({
      method,
      url: u,
      schema: { hide: true },
      handler: async (request, reply) => {
        try {
          return await handler(request, reply);
        } catch (err) {
          return fail(request, reply, err);
        }
      },
    });
  }
}

/** Seed 004's upload routes and its `/uploads/` files — never a public folder. Needs multipart. */
export function adclusterFileRoutes(app: FastifyInstance, core: Core) {
  const uploaded = (f: FileInfo) => ({
    filename: f.storedName,
    original_filename: f.name,
    detail: 'File uploaded successfully',
    size: f.size,
    path: `/uploads/${f.category}/${f.storedName}`,
    content_type: f.mime,
    id: f.id,
  });
  seedRoute(app, 'POST', '/api/upload', async (request) => {
    const [file] = await receiveMultipart(core, request, requireBearer(request).user, 'file');
    return uploaded(file as FileInfo);
  });
  seedRoute(app, 'POST', '/api/upload/multiple', async (request) => {
    const files = await receiveMultipart(core, request, requireBearer(request).user, 'files');
    return { files: files.map(uploaded), detail: `${files.length} files uploaded successfully` };
  });
  seedRoute(app, 'GET', '/uploads/:category/:name', async (request, reply) => {
    const viewer = requireBearer(request).user;
    const { category, name } = request.params as { category: string; name: string };
    if (category !== 'images' && category !== 'documents' && category !== 'files') {
      throw new AppError('NOT_FOUND', 'File not found');
    }
    const file = await core.files.findVisibleByStoredName(viewer, name);
    if (file.category !== category) throw new AppError('NOT_FOUND', 'File not found');
    return sendFile(core.files, request, reply, file);
  });
}

export function adclusterRoutes(app: FastifyInstance, core: Core) {
  const route = (method: 'GET' | 'POST', url: string | string[], handler: Handler) => seedRoute(app, method, url, handler);

  route('GET', '/health', async (_request, reply) => {
    const c = await core.health.check();
    if (c.ok) return reply.send({ status: 'healthy' });
    return reply.code(503).header('retry-after', '5').send({ status: 'degraded', database: c.database, storage: c.storage });
  });

  route('POST', '/auth/register', async (request, reply) => {
    const body = jsonObject(await rawBody(request, BODY_LIMIT));
    const email = stringField(body, 'uemail', 320) ?? stringField(body, 'email', 320);
    const username = stringField(body, 'uname', 64) ?? stringField(body, 'username', 64);
    const password = stringField(body, 'password');
    if (password === undefined) throw new AppError('VALIDATION_FAILED', 'field required: password');
    const user = await core.accounts.register({ username, email, password }, requestContext(request));
    return reply.code(201).send(adclusterUser(user));
  });

  const issueToken = async (request: FastifyRequest, identifier: string | undefined, password: string | undefined) => {
    if (!identifier || password === undefined)
      throw new AppError('VALIDATION_FAILED', 'field required: email, password');
    const user = await core.accounts.verifyCredentials(identifier, password, requestContext(request));
    const t = await core.accounts.startTokenSession(user, requestContext(request));
    return {
      access_token: t.accessToken,
      token_type: 'bearer',
      success: true,
      expires_in: core.config.accessTokenTtlSeconds,
      refresh_token: t.refreshToken,
    };
  };

  route('POST', '/auth/login', async (request) => {
    const body = jsonObject(await rawBody(request, BODY_LIMIT));
    const identifier =
      stringField(body, 'email', 320) ?? stringField(body, 'uemail', 320) ?? stringField(body, 'username', 320);
    return issueToken(request, identifier, stringField(body, 'password'));
  });

  route('POST', '/auth/token', async (request) => {
    const f = formFields(await rawBody(request, BODY_LIMIT));
    return issueToken(request, f.get('username') ?? undefined, f.get('password') ?? undefined);
  });

  route('GET', '/users/me', async (request) => adclusterUser(requireBearer(request).user));

  route('GET', ['/users', '/users/'], async (request) => {
    const { users } = await core.users.listVisible(requireBearer(request).user, 500, 0);
    return users.map(adclusterUser);
  });

  route('GET', '/users/:id', async (request) => {
    const viewer = requireBearer(request).user;
    const raw = (request.params as { id: string }).id;
    if (!/^\d{1,10}$/.test(raw)) throw new AppError('VALIDATION_FAILED', 'value is not a valid integer');
    const id = Number(raw);
    if (id < 1 || id > 2147483647) throw new AppError('NOT_FOUND', 'User not found');
    return adclusterUser(await core.users.getVisible(viewer, id));
  });

  route('POST', ['/users', '/users/'], async (request, reply) => {
    const actor = requireBearer(request).user;
    if (actor.role !== 'admin') throw new AppError('FORBIDDEN', 'Not enough permissions');
    const body = jsonObject(await rawBody(request, BODY_LIMIT));
    const role = stringField(body, 'role', 10);
    if (role !== undefined && role !== 'admin' && role !== 'user') {
      throw new AppError('VALIDATION_FAILED', 'role must be "admin" or "user"');
    }
    const user = await core.accounts.createUser(
      {
        username: stringField(body, 'uname', 64) ?? stringField(body, 'username', 64),
        email: stringField(body, 'uemail', 320) ?? stringField(body, 'email', 320),
        password: stringField(body, 'password') ?? '',
      },
      role ?? 'user',
    );
    return reply.code(201).send(adclusterUser(user));
  });
}
