import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

describe('OpenAPI, docs and health', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server.close());

  it('documents every native route with its schemas', async () => {
    const doc = (await api(server.url, 'GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const paths = Object.keys(doc.paths);
    for (const p of [
      '/api/auth/register',
      '/api/auth/login',
      '/api/auth/refresh',
      '/api/auth/logout',
      '/api/auth/me',
      '/api/auth/elevate',
      '/api/users',
      '/api/users/{id}',
      '/api/users/me',
      '/api/health',
      '/api/ready',
      '/api/setup',
    ]) {
      expect(paths).toContain(p);
    }
    for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
      expect(path.startsWith('/api/'), `${path} is not native`).toBe(true);
      for (const [method, op] of Object.entries<any>(ops)) {
        expect(op.responses, `${method} ${path}`).toBeDefined();
        // The chat WebSocket succeeds with 101 Switching Protocols.
        const success = path === '/api/chat' ? /^101$/ : /^2/;
        expect(
          Object.keys(op.responses).some((s) => success.test(s)),
          `${method} ${path}`,
        ).toBe(true);
        // Uploads stream their body (multipart or raw bytes) and describe it with `consumes`.
        const streamed = path === '/api/files' || path === '/api/files/raw';
        // Actions that take no body: logging out, asking for a key or a chat ticket, joining, leaving,
        // writing a backup now.
        const action = /\/(logout|elevate|ticket|join|leave)$/.test(path) || path === '/api/admin/backups';
        if (['post', 'patch', 'put'].includes(method) && !action && !streamed) {
          expect(op.requestBody, `${method} ${path} body schema`).toBeDefined();
        }
      }
    }
  });

  it('serves Swagger UI at /docs and ReDoc at /redoc from local files', async () => {
    const docs = await api(server.url, 'GET', '/docs/');
    expect(docs.status).toBe(200);
    expect(docs.text).toMatch(/swagger/i);
    const redoc = await api(server.url, 'GET', '/redoc');
    expect(redoc.text).toContain('/redoc/redoc.standalone.js');
    const js = await api(server.url, 'GET', '/redoc/redoc.standalone.js');
    expect(js.status).toBe(200);
    expect(js.text.length).toBeGreaterThan(100_000);
  });

  it('health: seed 004 form, liveness with version and uptime, readiness with the database', async () => {
    expect((await api(server.url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
    const live = await api(server.url, 'GET', '/api/health');
    expect(live.body).toMatchObject({ status: 'ok', version: '0.1.0' });
    expect(live.body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    const ready = await api(server.url, 'GET', '/api/ready');
    expect(ready.body).toMatchObject({ status: 'ready', database: { dialect: 'sqlite', status: 'up' } });
    expect(ready.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('database down', () => {
  it('readiness and /health say degraded with 503; requests needing the database get 503 + Retry-After', async () => {
    const server = await startTestServer('sqlite');
    try {
      await server.core.database.close();
      const ready = await api(server.url, 'GET', '/api/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe('degraded');
      const h = await api(server.url, 'GET', '/health');
      expect(h.status).toBe(503);
      expect(h.body.status).toBe('degraded');
      const reg = await api(server.url, 'POST', '/api/auth/register', {
        json: { username: 'late', password: 'late-password' },
      });
      expect(reg.status).toBe(503);
      expect(reg.body.error.code).toBe('DATABASE_UNAVAILABLE');
      expect(reg.headers.get('retry-after')).toBe('2');
    } finally {
      await server.app.close();
    }
  });
});
