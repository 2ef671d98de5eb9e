import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * CSRF as browsers really send it. The real-browser proof is test/e2e/forms.test.ts; these are the
 * header combinations, including ones a current Chromium does not send.
 */
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

describe('cross-site request checks', () => {
  let server: TestServer;
  let base: string;
  let own: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    own = new URL(base).origin;
    await registerAndLogin(base, 'csrf-user');
  });
  afterAll(() => server.close());

  const cases: Array<{ name: string; headers: (own: string) => Record<string, string>; refused: boolean }> = [
    { name: 'no browser headers (curl, seed clients)', headers: () => ({}), refused: false },
    { name: 'Chromium form post from a no-referrer page', headers: () => ({ origin: 'null', 'sec-fetch-site': 'same-origin' }), refused: false },
    { name: 'same-origin fetch', headers: (o) => ({ origin: o, 'sec-fetch-site': 'same-origin' }), refused: false },
    { name: 'user-initiated (Sec-Fetch-Site: none)', headers: () => ({ 'sec-fetch-site': 'none' }), refused: false },
    { name: 'own Origin, no Fetch Metadata (older browser)', headers: (o) => ({ origin: o }), refused: false },
    { name: 'cross-site form post', headers: () => ({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }), refused: true },
    { name: 'sandboxed frame (opaque origin)', headers: () => ({ origin: 'null', 'sec-fetch-site': 'cross-site' }), refused: true },
    { name: 'same-site but another origin', headers: () => ({ origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site' }), refused: true },
    { name: 'Origin null without Fetch Metadata', headers: () => ({ origin: 'null' }), refused: true },
    { name: 'foreign Origin without Fetch Metadata', headers: () => ({ origin: 'https://evil.example' }), refused: true },
    // No browser sends these pairs; a foreign Origin is refused whatever Sec-Fetch-Site claims.
    { name: 'foreign Origin claiming same-origin', headers: () => ({ origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }), refused: true },
    { name: 'foreign Origin claiming none', headers: () => ({ origin: 'https://evil.example', 'sec-fetch-site': 'none' }), refused: true },
  ];

  it.each(cases)('POST with $name', async ({ headers, refused }) => {
    for (const path of ['/api/auth/login', '/login']) {
      const r = await api(base, 'POST', path, {
        headers: { ...headers(own), 'content-type': 'application/json' },
        body: JSON.stringify({ identifier: 'csrf-user', username: 'csrf-user', password: 'wrong-password' }),
      });
      if (refused) {
        expect(r.status).toBe(403);
        expect(r.body).toEqual({ error: { code: 'CSRF_REJECTED', message: 'Cross-site request refused' } });
      } else {
        expect(r.status).toBe(401);
      }
    }
  });

  async function cookieSession() {
    const r = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'csrf-user', password: PASSWORD, session: 'cookie' } });
    const cookie = cookieFrom(r.headers, 'plaza_session');
    expect(cookie).toMatch(/^plaza_session=/);
    return cookie ?? '';
  }
  const stillIn = async (cookie: string) => (await api(base, 'GET', '/api/users/me', { cookie })).status === 200;

  it.each<{ name: string; headers: Record<string, string>; loggedOut: boolean }>([
    { name: 'a cross-site link', headers: { 'sec-fetch-site': 'cross-site', accept: 'text/html' }, loggedOut: false },
    { name: 'a same-site page on another origin', headers: { 'sec-fetch-site': 'same-site', accept: 'text/html' }, loggedOut: false },
    { name: 'an older browser coming from another site', headers: { referer: 'https://evil.example/x', accept: 'text/html' }, loggedOut: false },
    // Plain HTTP on a LAN address: Chromium sends no Fetch Metadata there, and rel=noreferrer drops the Referer.
    { name: 'a plain-HTTP cross-site link without Referer', headers: { accept: 'text/html', 'user-agent': CHROME }, loggedOut: false },
    { name: 'a plain-HTTP cross-site image', headers: { accept: 'image/avif,image/webp,*/*', 'user-agent': CHROME }, loggedOut: false },
    { name: 'a plain-HTTP same-origin link (Referer from Plaza)', headers: { accept: 'text/html', 'user-agent': CHROME, referer: 'OWN/index' }, loggedOut: true },
    { name: 'a same-origin link', headers: { 'sec-fetch-site': 'same-origin', accept: 'text/html' }, loggedOut: true },
    { name: 'the address bar', headers: { 'sec-fetch-site': 'none', accept: 'text/html' }, loggedOut: true },
    { name: 'a script without browser headers', headers: {}, loggedOut: true },
  ])('GET /logout from $name', async ({ headers, loggedOut }) => {
    const cookie = await cookieSession();
    const sent = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('OWN', own)]));
    const r = await api(base, 'GET', '/logout', { cookie, headers: sent });
    expect(await stillIn(cookie)).toBe(!loggedOut);
    if (!loggedOut) {
      expect(r.status).toBe(200);
      expect(r.text).toContain('Log out of Plaza?');
      expect(r.text).toContain('<form method="post" action="/logout"');
    }
  });

  it('HEAD /logout never ends the session, whoever sends it', async () => {
    const cookie = await cookieSession();
    for (const headers of [{}, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'same-origin' }] as Record<string, string>[]) {
      const r = await api(base, 'HEAD', '/logout', { cookie, headers });
      expect(r.status).toBe(200);
      expect(await stillIn(cookie)).toBe(true);
    }
  });

  it('POST /logout from another site is refused and the session lives on', async () => {
    const cookie = await cookieSession();
    const r = await api(base, 'POST', '/logout', { cookie, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(r.status).toBe(403);
    expect(await stillIn(cookie)).toBe(true);
  });
});
