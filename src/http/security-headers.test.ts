import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const STRICT = /default-src 'none'.*frame-ancestors 'none'/;

/** One policy for every response: JSON, text, pages, docs, downloads, tus, errors, seed replies. */
describe('security headers on every response', () => {
  let server: TestServer;
  let base: string;
  let token: string;
  let fileId: string;
  let share: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    token = (await registerAndLogin(base, 'headers')).accessToken;
    const up = await uploadMultipart(base, token, [{ name: 'pic.png', data: PNG }]);
    fileId = up.body.files[0].id;
    share = (await api(base, 'POST', `/api/files/${fileId}/shares`, { token, json: {} })).body.url;
  });
  afterAll(() => server.close());

  type Req = { method: string; path: string; opts?: Parameters<typeof api>[3]; csp?: RegExp };
  const routes: Array<[string, () => Req]> = [
    ['JSON 200', () => ({ method: 'GET', path: '/api/users/me', opts: { token } })],
    ['JSON 401', () => ({ method: 'GET', path: '/api/users/me' })],
    ['JSON 404 (no route)', () => ({ method: 'GET', path: '/api/nothing-here' })],
    ['JSON 400 (bad JSON)', () => ({ method: 'POST', path: '/api/auth/login', opts: { headers: { 'content-type': 'application/json' }, body: '{' } })],
    ['CSRF refusal', () => ({ method: 'POST', path: '/api/auth/login', opts: { json: {}, headers: { 'sec-fetch-site': 'cross-site' } } })],
    ['health', () => ({ method: 'GET', path: '/health' })],
    ['seed 000 text', () => ({ method: 'POST', path: '/login', opts: { json: { username: 'headers', password: PASSWORD } } })],
    ['seed 004 REST', () => ({ method: 'GET', path: '/api/ws/groups', opts: { token } })],
    ['OpenAPI document', () => ({ method: 'GET', path: '/openapi.json' })],
    ['/docs redirect', () => ({ method: 'GET', path: '/docs' })],
    ['Swagger UI page', () => ({ method: 'GET', path: '/docs/', csp: /script-src 'self'.*frame-ancestors 'none'|frame-ancestors 'none'.*script-src 'self'/ })],
    ['ReDoc page', () => ({ method: 'GET', path: '/redoc', csp: /worker-src blob:/ })],
    ['login page', () => ({ method: 'GET', path: '/login', csp: /default-src 'none'.*frame-ancestors 'none'/ })],
    ['download', () => ({ method: 'GET', path: `/api/files/${fileId}/content`, opts: { token }, csp: /sandbox/ })],
    ['share link', () => ({ method: 'GET', path: share, csp: /sandbox/ })],
    ['tus OPTIONS', () => ({ method: 'OPTIONS', path: '/api/files/tus', opts: { headers: { origin: 'https://evil.example' } } })],
    ['tus POST', () => ({ method: 'POST', path: '/api/files/tus', opts: { token, headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', origin: base, 'upload-metadata': `filename ${Buffer.from('a.txt').toString('base64')}` } } })],
    ['tus refusal', () => ({ method: 'HEAD', path: `/api/files/tus/${'0'.repeat(32)}`, opts: { token, headers: { 'tus-resumable': '1.0.0', origin: 'https://evil.example' } } })],
  ];

  it.each(routes)('%s', async (_name, make) => {
    const { method, path, opts, csp } = make();
    const r = await api(base, method, path, opts);
    expect(r.status).toBeLessThan(500);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('referrer-policy')).toMatch(/^(same-origin|no-referrer)$/);
    expect(r.headers.get('content-security-policy')).toMatch(csp ?? STRICT);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(r.headers.get('strict-transport-security')).toBeNull();
  });

  it('hijacked seed replies (seed 000 404 in two writes) carry them too', async () => {
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'headers', password: PASSWORD }));
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'headers' }));
    const key = /key=([0-9a-f]{64})/.exec(priv.headerLines.join('\n'))?.[1];
    const r = await c.request(seed000Request('GET', '/images', { url: 'missing.png' }, [`X-Plaza-Key: ${key}`]));
    expect(r.statusLine).toBe('HTTP/1.1 404 Not Found');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    c.close();
  });

  it.each([
    ['a bad percent-encoding (router error)', `GET /s/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['an over-long URL segment (router error)', `GET /s/${'a'.repeat(600)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ['headers too large (answered below Fastify)', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431],
    ['a malformed request (answered below Fastify)', `GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`, 400],
  ])('%s carries them too', async (_name, bytes, status) => {
    const c = await RawConnection.open(server.port);
    const r = await c.request(bytes);
    expect(r.status).toBe(status);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['content-security-policy']).toMatch(STRICT);
    expect(JSON.parse(r.body.toString()).error.code).toBeTypeOf('string');
    c.close();
  });

  it('HSTS is sent only where Plaza is served over HTTPS', async () => {
    const https = await startTestServer('sqlite', { PLAZA_PUBLIC_URL: 'https://plaza.example' });
    try {
      const r = await api(`http://127.0.0.1:${https.port}`, 'GET', '/health');
      expect(r.headers.get('strict-transport-security')).toBe('max-age=15552000');
    } finally {
      await https.close();
    }
  });
});
