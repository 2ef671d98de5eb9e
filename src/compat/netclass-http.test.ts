import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { POST_EXTRAS, PUT_EXTRAS, parseUserLine } from './netclass/semantics.js';

describe('seed 001 user line parsing', () => {
  it('splits email, password and a known extra; commas stay in passwords', () => {
    expect(parseUserLine('user:a@b.c,pw', POST_EXTRAS)).toEqual({
      identifier: 'a@b.c',
      password: 'pw',
      extra: undefined,
    });
    expect(parseUserLine('user:a@b.c,pw,signup', POST_EXTRAS)?.extra).toBe('signup');
    expect(parseUserLine('user:a@b.c,p,w,d', POST_EXTRAS)?.password).toBe('p,w,d');
    expect(parseUserLine('user:a@b.c,pw,7', PUT_EXTRAS)).toMatchObject({ password: 'pw', extra: '7' });
    expect(parseUserLine('Host: x\r\nuser:a@b.c,pw', POST_EXTRAS)?.identifier).toBe('a@b.c');
    expect(parseUserLine('nothing here', POST_EXTRAS)).toBeUndefined();
    expect(parseUserLine('user:nocomma', POST_EXTRAS)).toBeUndefined();
  });
});

describe.each(await testDatabases())('seed 001 semantics on / (%s)', (db) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: 'boss-password-1',
      PLAZA_ADMIN_EMAIL: 'boss@corp.io',
    });
    base = server.url;
  });
  afterAll(() => server.close());

  it("GET without a login is 403 with seed 004's welcome", async () => {
    const anon = await api(base, 'GET', '/');
    expect(anon.status).toBe(403);
    expect(anon.body).toMatchObject({ message: 'Welcome to Plaza API', detail: 'Forbidden' });
  });

  it('PUT creates a user (201), 400 for length ≤ 1 or a weak password, with a reason', async () => {
    const ok = await api(base, 'PUT', '/', { body: JSON.stringify({ email: 'kim@corp.io', password: PASSWORD }) });
    expect(ok.status).toBe(201);
    expect(ok.text).toBe('Success create user');
    const short = await api(base, 'PUT', '/', { body: JSON.stringify({ email: 'k', password: PASSWORD }) });
    expect(short.status).toBe(400);
    expect(short.text).toMatch(/longer than 1/);
    const shortPw = await api(base, 'PUT', '/', { body: 'user:lee@corp.io,x' });
    expect(shortPw.status).toBe(400);
    const weak = await api(base, 'PUT', '/', { body: 'user:lee@corp.io,abc' });
    expect(weak.status).toBe(400);
    expect(weak.text).toMatch(/at least 8/);
    const line = await api(base, 'PUT', '/', { body: `user:lee@corp.io,${PASSWORD}` });
    expect(line.status).toBe(201);
  });

  it('POST logs in and says the role; else 401 Unauthorized', async () => {
    const user = await api(base, 'POST', '/', { body: JSON.stringify({ email: 'kim@corp.io', password: PASSWORD }) });
    expect(user.status).toBe(200);
    expect(user.text).toBe('Success Login. you are user');
    const admin = await api(base, 'POST', '/', { body: 'user:boss@corp.io,boss-password-1' });
    expect(admin.text).toBe('Success Login. you are admin');
    const bad = await api(base, 'POST', '/', { body: 'user:boss@corp.io,nope-nope' });
    expect(bad.status).toBe(401);
    expect(bad.text).toBe('Unauthorized');
    const signup = await api(base, 'POST', '/', { body: `user:new@corp.io,${PASSWORD},signup` });
    expect(signup.status).toBe(201);
    const loginAfter = await api(base, 'POST', '/', { body: `user:new@corp.io,${PASSWORD},login` });
    expect(loginAfter.text).toBe('Success Login. you are user');
  });

  it('GET returns user data by role, never hashes', async () => {
    const userLogin = await api(base, 'POST', '/', {
      body: JSON.stringify({ email: 'kim@corp.io', password: PASSWORD }),
    });
    const mine = await api(base, 'GET', '/', { cookie: cookieFrom(userLogin.headers, 'plaza_session') });
    expect(mine.status).toBe(200);
    expect(mine.body.users).toHaveLength(1);
    expect(mine.body.users[0].email).toBe('kim@corp.io');

    const adminLogin = await api(base, 'POST', '/', { body: 'user:boss@corp.io,boss-password-1' });
    const all = await api(base, 'GET', '/', { cookie: cookieFrom(adminLogin.headers, 'plaza_session') });
    expect(all.body.users.length).toBeGreaterThanOrEqual(3);
    expect(all.text).not.toMatch(/argon2|password/);
  });

  it('login state on one keep-alive connection counts for GET', async () => {
    const c = await RawConnection.open(server.port);
    const body = 'user:kim@corp.io,correct-horse-9';
    const login = await c.request(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(login.body.toString()).toBe('Success Login. you are user');
    const get = await c.request('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body.toString()).users[0].email).toBe('kim@corp.io');
    // Behind a proxy the connection may carry other clients: the connection login is ignored.
    const proxied = await c.request('GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.9\r\n\r\n');
    expect(proxied.status).toBe(403);
    c.close();
  });

  it('HEAD answers the status without a body; a browser gets the web app', async () => {
    const c = await RawConnection.open(server.port);
    const head = await c.request('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n', { head: true });
    expect(head.statusLine).toBe('HTTP/1.1 200 OK');
    expect(head.headers['x-plaza-status']).toBe('ok');
    c.close();
    const html = await api(base, 'GET', '/', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(html.text).toContain('<h1>Plaza</h1>');
  });

  it('bad input: garbage, binary and huge bodies are 4xx', async () => {
    for (const body of [
      'garbage',
      '\u0000\u0001\u0002',
      '{"email": 5}',
      'user:',
      `user:${'a'.repeat(5000)},${'b'.repeat(5000)}`,
    ]) {
      const r = await api(base, 'PUT', '/', { body });
      expect(r.status, body.slice(0, 20)).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const p = await api(base, 'POST', '/', { body });
      expect(p.status).toBeGreaterThanOrEqual(400);
      expect(p.status).toBeLessThan(500);
    }
    const huge = await api(base, 'PUT', '/', { body: 'x'.repeat(200_000) });
    expect(huge.status).toBe(413);
  });
});
