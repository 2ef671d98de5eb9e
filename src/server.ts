import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { accountsRoutes } from './accounts/accounts.routes.js';
import { UserSchema } from './accounts/accounts.schemas.js';
import { usersRoutes } from './accounts/users.routes.js';
import type { Core } from './app.js';
import type { Config } from './config.js';
import { chatRoutes } from './chat/chat.routes.js';
import { chatSocketRoutes } from './chat/chat.socket.js';
import { adclusterSocketRoutes } from './compat/adcluster.socket.js';
import { compatFileRoutes, compatRoutes } from './compat/routes.js';
import { filesRoutes } from './files/files.routes.js';
import { FileSchema } from './files/files.schemas.js';
import { publicShareRoutes, sharesRoutes } from './files/shares.routes.js';
import { tusRoutes } from './files/tus.routes.js';
import { installAuth } from './http/auth.js';
import { countBodyBytes } from './http/body-bytes.js';
import { createConnectionGuards } from './http/connection-guards.js';
import { installNativeErrors, sendNativeError } from './http/errors.js';
import { installOpenApi } from './http/openapi.js';
import { installSecurityHeaders } from './http/security-headers.js';
import { ErrorBody } from './http/schemas.js';
import { installValidation, lazySerializers } from './http/validation.js';
import { webRoutes } from './http/web.js';
import { loadWebApp, type WebApp, webAppRoutes } from './http/webapp.js';
import { auditRoutes } from './ops/audit/audit.routes.js';
import { backupRoutes } from './ops/backup/backup.routes.js';
import { consoleRoutes } from './ops/console/console.routes.js';
import { healthRoutes } from './ops/health.routes.js';
import { metricsRoutes } from './ops/metrics.routes.js';

export const CHAT_MAX_PAYLOAD = 64 * 1024;
const SENSITIVE_QUERY = /([?&](?:token|ticket|key|access_token|refresh_token|password)=)[^&]*/gi;

/** Request URL for logs, with credentials in the query string blanked out. */
export function redactUrl(url: string): string {
  return url.replace(SENSITIVE_QUERY, '$1[REDACTED]');
}

/**
 * Errors in logs as pino writes them (type, message, stack, own properties, cause), minus Node's
 * `rawPacket`: the raw bytes of a request it could not parse, cookies and passwords included.
 */
export function serializeError(err: Error): { [key: string]: unknown; type: string; message: string; stack: string } {
  const { rawPacket: _raw, cause, message: _m, stack: _s, ...own } = err as Error & Record<string, unknown>;
  return {
    ...own,
    type: err.constructor.name,
    message: err.message,
    stack: err.stack ?? '',
    ...(cause instanceof Error ? { cause: serializeError(cause) } : cause !== undefined ? { cause } : {}),
  };
}

/**
 * PLAZA_TRUST_PROXY as Fastify takes it. A hop count becomes a function: Fastify reads a bare
 * number as "trust nothing", since it cannot check the immediate peer.
 */
function trustProxyOption(trust: Config['trustProxy']) {
  return typeof trust === 'number' ? (_address: string, hop: number) => hop < trust : trust;
}

/** The one warning start logs while proxy trust is on. */
export function trustProxyWarning(trust: Config['trustProxy']): string | undefined {
  if (trust === false) return undefined;
  const who = typeof trust === 'number' ? `the nearest ${trust} hop(s), whatever their address` : trust.join(', ');
  const hint = typeof trust === 'number' ? '; clients must not reach this port except through the proxy' : '';
  return `PLAZA_TRUST_PROXY is on: X-Forwarded-For from ${who} names the client (per-address caps and login throttling follow it)${hint}`;
}

export async function buildServer(core: Core, webapp: WebApp = loadWebApp()): Promise<FastifyInstance> {
  const { config } = core;
  // Slow clients, connection caps, lingering close, Node's own answers (connection-guards.ts).
  const guards = createConnectionGuards(config);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["set-cookie"]',
          'req.headers["x-plaza-key"]',
          'res.headers["set-cookie"]',
        ],
        censor: '[REDACTED]',
      },
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
        err: serializeError,
      },
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: trustProxyOption(config.trustProxy),
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    forceCloseConnections: 'idle',
    // A connection silent this long is closed: a stalled upload must not hold its temp file forever.
    connectionTimeout: 120_000,
    // Idle keep-alive connections are closed soon (and first to go when a cap is reached); one
    // carrying a seed connection-login is kept PLAZA_SEED_KEEP_ALIVE_SECONDS (http/connections.ts).
    keepAliveTimeout: config.connections.keepAliveSeconds * 1000,
    schemaController: { compilersFactory: { buildSerializer: lazySerializers } },
    // Connection layer: every answer Fastify or Node would write itself comes out in Plaza's
    // shape (the 503 while closing is answered by the guards' onRequest hook).
    http: guards.httpOptions,
    clientErrorHandler: guards.onClientError,
    frameworkErrors: (err, request, reply) => sendNativeError(request, reply, err),
    return503OnClosing: false,
  });

  core.database.onAvailabilityChange((up) => {
    if (up) app.log.info('The database answers again: degraded mode is over');
    else app.log.warn('The database cannot be reached: degraded mode (requests that need it get 503 DATABASE_UNAVAILABLE until it answers)');
  });
  const trustWarning = trustProxyWarning(config.trustProxy);
  if (trustWarning) app.log.warn({ trustProxy: config.trustProxy }, trustWarning);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  const metrics = core.metrics;
  if (metrics) {
    // Route patterns, never raw URLs, as labels: their number stays bounded.
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
    countBodyBytes(app, (route, bytesIn, bytesOut) => metrics.observeBytes(route, bytesIn, bytesOut));
    metrics.countHttpConnectionsWith(() => new Promise((resolve) => app.server.getConnections((err, n) => resolve(err ? 0 : n))));
  }

  await installSecurityHeaders(app, config);
  await app.register(cookie);
  // Chat frames are small: a client cannot make the server buffer more than this per frame.
  await app.register(websocket, { options: { maxPayload: CHAT_MAX_PAYLOAD } });
  guards.install(app);
  installValidation(app);
  installNativeErrors(app);
  installAuth(app, core);
  await installOpenApi(app);
  app.addSchema(ErrorBody);
  app.addSchema(UserSchema);
  app.addSchema(FileSchema);

  await app.register(
    async (api) => {
      // The native API speaks JSON only: anything else is 415, not a confusing validation error.
      api.removeContentTypeParser('text/plain');
      await api.register(accountsRoutes, { core });
      await api.register(usersRoutes, { core });
      await api.register(healthRoutes, { core });
      await api.register(backupRoutes, { core });
      await api.register(auditRoutes, { core });
      await api.register(consoleRoutes, { core });
      await api.register(filesRoutes, { core });
      await api.register(sharesRoutes, { core });
      await api.register(chatSocketRoutes, { core });
      await api.register(chatRoutes, { core });
    },
    { prefix: '/api' },
  );
  await app.register(metricsRoutes, { core });
  await app.register(adclusterSocketRoutes, { core });
  await app.register(webRoutes, { core, webapp });
  await app.register(webAppRoutes, { webapp });
  await app.register(publicShareRoutes, { core });
  await app.register(tusRoutes, { core });
  await app.register(compatRoutes, { core });
  await app.register(compatFileRoutes, { core, webapp });
  return app;
}
