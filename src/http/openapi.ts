import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ChatClientFrame, ChatServerFrame } from '../chat/chat.schemas.js';
import { VERSION } from '../ops/health.service.js';
import { DOCS_HELMET } from './security-headers.js';

const require = createRequire(import.meta.url);

/**
 * OpenAPI document at /openapi.json, Swagger UI at /docs, ReDoc at /redoc — all served from local
 * packages (no CDN). The UI files are read on first request, not at start.
 */
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
        // The native chat WebSocket's frames (GET /api/chat), from the union the socket validates with.
        schemas: { ChatClientFrame, ChatServerFrame },
      },
      security: [{ bearer: [] }, { session: [] }],
      tags: [
        { name: 'auth', description: 'Register, log in, tokens, sessions, elevation' },
        { name: 'users', description: 'Users and profiles' },
        { name: 'setup', description: 'First admin' },
        { name: 'files', description: 'Uploads, downloads, quotas' },
        { name: 'ops', description: 'Health and readiness, backups, the audit log' },
        { name: 'console', description: 'The admin database console: tables, one-statement SQL (read-only unless the write switch and an access key), exports, saved queries, history' },
        { name: 'chat', description: 'Rooms, messages, presence; the native chat WebSocket (frames: ChatClientFrame, ChatServerFrame)' },
      ],
    },
  });

  const hide = { schema: { hide: true } };
  const page = { ...hide, ...DOCS_HELMET };
  app.get('/openapi.json', hide, async () => app.swagger());

  const assets = new Map<string, Buffer>();
  const asset = (reply: FastifyReply, file: string, type: string) => {
    let body = assets.get(file);
    if (!body) {
      body = readFileSync(require.resolve(file));
      assets.set(file, body);
    }
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
  };
  const swaggerDir = 'swagger-ui-dist';
  // A fixed list: the route parameter never reaches the filesystem.
  const SWAGGER_FILES: Record<string, string> = {
    'swagger-ui.css': 'text/css; charset=utf-8',
    'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
    'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
    'favicon-32x32.png': 'image/png',
  };

  app.get('/docs', hide, async (_req, reply) => reply.redirect('/docs/', 302));
  app.get('/docs/', page, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plaza API</title>' +
          '<meta name="viewport" content="width=device-width,initial-scale=1">' +
          '<link rel="icon" href="/docs/static/favicon-32x32.png"><link rel="stylesheet" href="/docs/static/swagger-ui.css">' +
          '</head><body><div id="swagger-ui"></div><script src="/docs/static/swagger-ui-bundle.js"></script>' +
          '<script src="/docs/static/swagger-init.js"></script></body></html>',
      ),
  );
  app.get('/docs/static/swagger-init.js', hide, async (_req, reply) =>
    reply
      .type('application/javascript; charset=utf-8')
      .send("window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });"),
  );
  app.get<{ Params: { file: string } }>('/docs/static/:file', hide, async (req, reply) => {
    const type = SWAGGER_FILES[req.params.file];
    if (!type) return reply.callNotFound();
    return asset(reply, path.posix.join(swaggerDir, req.params.file), type);
  });

  app.get('/redoc/redoc.standalone.js', hide, async (_req, reply) =>
    asset(reply, 'redoc/bundles/redoc.standalone.js', 'application/javascript; charset=utf-8'),
  );
  app.get('/redoc', page, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><html><head><meta charset="utf-8"><title>Plaza API · ReDoc</title>' +
          '<meta name="viewport" content="width=device-width,initial-scale=1"></head><body>' +
          '<redoc spec-url="/openapi.json"></redoc><script src="/redoc/redoc.standalone.js"></script></body></html>',
      ),
  );
}
