import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const BROWSER = { ...FORM, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe.each(await testDatabases())('seed 002 (file manager) forms on %s', (db) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
  });
  afterAll(() => server.close());

  it('a browser registers, logs in, lands on /index, and logs out (GET)', async () => {
    const reg = await api(base, 'POST', '/register', {
      headers: BROWSER,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(reg.status).toBe(303);
    expect(reg.headers.get('location')).toBe('/login?registered=1');
    const login = await api(base, 'POST', '/login', {
      headers: BROWSER,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/index');
    const cookie = cookieFrom(login.headers, 'plaza_session');
    const index = await api(base, 'GET', '/index', { cookie });
    expect(index.text).toContain('Welcome, new_user');
    const out = await api(base, 'GET', '/logout', { cookie, headers: { accept: 'text/html' } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    const after = await api(base, 'GET', '/index', { cookie });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/login');
  });

  it('failures go back to the form with a message; curl gets a status and text', async () => {
    const bad = await api(base, 'POST', '/login', { headers: BROWSER, body: 'username=new_user&password=wrong-one' });
    expect(bad.status).toBe(303);
    expect(bad.headers.get('location')).toMatch(/^\/login\?error=/);
    const page = await api(base, 'GET', bad.headers.get('location') ?? '/login');
    expect(page.text).toContain('Incorrect username, email or password');
    const curl = await api(base, 'POST', '/login', { headers: FORM, body: 'username=new_user&password=wrong-one' });
    expect(curl.status).toBe(401);
    const taken = await api(base, 'POST', '/register', {
      headers: FORM,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(taken.status).toBe(409);
    const empty = await api(base, 'POST', '/register', { headers: FORM, body: 'username=&password=' });
    expect(empty.status).toBe(400);
    const ok = await api(base, 'POST', '/login', { headers: FORM, body: `username=new_user&password=${PASSWORD}` });
    expect(ok.status).toBe(200);
    const out = await api(base, 'POST', '/logout', { cookie: cookieFrom(ok.headers, 'plaza_session') });
    expect(out.text).toBe('Logged out');
  });

  it('error messages are escaped in the page (no reflected HTML)', async () => {
    const page = await api(base, 'GET', '/login?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('&#60;script&#62;');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
