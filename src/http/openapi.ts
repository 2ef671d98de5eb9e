import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../ops/health.service.js';

const require = createRequire(import.meta.url);

/** OpenAPI document at /openapi.json, Swagger UI at /docs, ReDoc at /redoc (all served locally). */
export async function installOpenApi(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Plaza API',
        version: VERSION,
        description:
          'Native API of Plaza. Errors are always {"error":{"code","message"}}. Authenticate with a bearer ' +
          'token from POST /api/auth/login, or a session cookie (browser).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          session: { type: 'apiKey', in: 'cookie', name: 'plaza_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
      tags: [
        { name: 'auth', description: 'Register, log in, tokens, sessions, elevation' },
        { name: 'users', description: 'Users and profiles' },
        { name: 'setup', description: 'First admin' },
        { name: 'ops', description: 'Health and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Read on first use, not at start: it is 1 MB and most runs never open /redoc.
  let redocJs: Buffer | undefined;
  app.get('/redoc/redoc.standalone.js', { schema: { hide: true } }, async (_req, reply) => {
    redocJs ??= readFileSync(require.resolve('redoc/bundles/redoc.standalone.js'));
    return reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(redocJs);
  });
  app.get('/redoc', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html><head><meta charset="utf-8"><title>Plaza API · ReDoc</title>' +
          '<meta name="viewport" content="width=device-width,initial-scale=1"></head><body>' +
          '<redoc spec-url="/openapi.json"></redoc><script src="/redoc/redoc.standalone.js"></script></body></html>',
      ),
  );
}
