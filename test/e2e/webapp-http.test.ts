import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/webapp.js';

/**
 * The web app as HTTP sees it: hashed assets cached for a year and compressed as asked, an
 * index.html that is never cached and carries a CSP with no inline script, seed 002's JSON at
 * /files for its client, and a login page whose `?next=` cannot send anyone to another site.
 */
describe('the web app over HTTP', () => {
  let server: TestServer;
  let base: string;
  let cookie: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    await createUser(base, 'hana');
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'hana', password: PASSWORD, session: 'cookie' } });
    cookie = cookieFrom(login.headers, 'plaza_session') ?? '';
    expect(cookie).not.toBe('');
  });
  afterAll(async () => server?.close());

  async function indexHtml(path = '/files') {
    return api(base, 'GET', path, { cookie, headers: { accept: 'text/html,application/xhtml+xml' } });
  }

  it('serves index.html for every app path, never cached, under a CSP without inline script', async () => {
    for (const path of ['/files', '/chat', '/chat/12', '/profile', '/admin']) {
      const r = await indexHtml(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.text).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
      // No inline script at all: every <script> has a src.
      expect(r.text.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
    }
  });

  it('sends a visitor without a session to the login page, to come back to the same place', async () => {
    for (const path of ['/files', '/chat/5?focus=1', '/profile', '/admin']) {
      const r = await api(base, 'GET', path, { headers: { accept: 'text/html' } });
      expect(r.status, path).toBe(303);
      expect(r.headers.get('location'), path).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });

  it('serves hashed assets immutable for a year, brotli or gzip as accepted, identity otherwise', async () => {
    const html = (await indexHtml()).text;
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1] ?? '';
    const css = html.match(/href="(\/assets\/[^"]+\.css)"/)?.[1] ?? '';
    expect(js).not.toBe('');
    expect(css).not.toBe('');

    const plain = await fetch(base + js, { headers: { 'accept-encoding': 'identity' } });
    const body = Buffer.from(await plain.arrayBuffer());
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('vary')).toContain('accept-encoding');

    // Node's fetch would decode for us: read the raw bytes with http instead.
    const raw = async (path: string, enc: string) => {
      const http = await import('node:http');
      return new Promise<{ headers: import('node:http').IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        http.get(base + path, { headers: { 'accept-encoding': enc } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        }).on('error', reject);
      });
    };
    const br = await raw(js, 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(body)).toBe(true);
    expect(br.body.length).toBeLessThan(body.length / 2);
    const gz = await raw(css, 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gunzipSync(gz.body).length).toBeGreaterThan(gz.body.length);
    const refused = await raw(css, 'br;q=0, gzip;q=0');
    expect(refused.headers['content-encoding']).toBeUndefined();

    const missing = await fetch(`${base}/assets/nope-123.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
    await missing.text();
  });

  it("keeps seed 002's GET /files JSON for clients that do not ask for HTML", async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const r = await api(base, 'GET', '/files', { cookie, headers: accept ? { accept } : {} });
      expect(r.status, String(accept)).toBe(200);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect(r.body).toEqual({ files: [] });
    }
    const anonymous = await api(base, 'GET', '/files');
    expect(anonymous.status).toBe(401);
    expect((await indexHtml('/files')).text).toContain('<div id="app">');
  });

  it('the login page keeps a local ?next= and refuses every other target', async () => {
    const page = await api(base, 'GET', `/login?next=${encodeURIComponent('/chat/3?x=1')}`, { headers: { accept: 'text/html' } });
    expect(page.text).toContain('<input type="hidden" name="next" value="/chat/3?x=1">');
    const bad = ['//evil.example/x', '/\\evil.example', '/\\/evil.example', 'https://evil.example/', 'javascript:alert(1)', '/\n/evil.example', 'files', '/\t/evil.example', ' //evil.example'];
    for (const next of bad) {
      const shown = await api(base, 'GET', `/login?next=${encodeURIComponent(next)}`, { headers: { accept: 'text/html' } });
      expect(shown.text, next).not.toContain('name="next"');
      const posted = await api(base, 'POST', '/login', {
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ username: 'hana', password: PASSWORD, next }).toString(),
      });
      expect(posted.status, next).toBe(303);
      expect(posted.headers.get('location'), next).toBe('/index');
    }
    const good = await api(base, 'POST', '/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ username: 'hana', password: PASSWORD, next: '/chat/3' }).toString(),
    });
    expect(good.headers.get('location')).toBe('/chat/3');
    // A failed login goes back to the form with the name kept and the target still there.
    const wrong = await api(base, 'POST', '/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ username: 'hana', password: 'wrong-password', next: '/profile' }).toString(),
    });
    const back = new URL(wrong.headers.get('location') ?? '', base);
    expect(back.pathname).toBe('/login');
    expect(back.searchParams.get('username')).toBe('hana');
    expect(back.searchParams.get('next')).toBe('/profile');
  });

  it('sends a signed-in user away from the login page, to ?next= when it is local', async () => {
    const r = await api(base, 'GET', '/login?next=/profile', { cookie, headers: { accept: 'text/html' } });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/profile');
    const evil = await api(base, 'GET', '/login?next=//evil.example', { cookie, headers: { accept: 'text/html' } });
    expect(evil.headers.get('location')).toBe('/files');
  });
});
