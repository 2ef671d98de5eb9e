import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

describe.each(await testDatabases())('seed 000 (SocketProgram) over one raw keep-alive socket on %s', (db) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(db);
  });
  afterAll(() => server.close());

  it('register → login → privilege → HEAD /images on the same connection, with exact replies', async () => {
    const c = await RawConnection.open(server.port);
    const creds = { username: 'sihaun', password: PASSWORD };

    const reg = await c.request(seed000Request('POST', '/register', creds));
    expect(reg.statusLine).toBe('HTTP/1.1 200 OK');
    expect(reg.body.toString()).toBe('REGISTER_SUCCESS');
    expect(Number(reg.headers['content-length'])).toBe(reg.body.length);

    const again = await c.request(seed000Request('POST', '/register', creds));
    expect(again.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(again.body.toString()).toBe('REGISTER_FAILED: User already exists');

    const bad = await c.request(seed000Request('POST', '/login', { ...creds, password: 'wrong-password' }));
    expect(bad.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(bad.body.toString()).toBe('LOGIN_FAILED');

    // Before a login on this connection, elevation is refused.
    const early = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(early.status).toBe(401);

    const login = await c.request(seed000Request('POST', '/login', creds));
    expect(login.statusLine).toBe('HTTP/1.1 200 OK');
    expect(login.body.toString()).toBe('LOGIN_SUCCESS');

    // The client never sends its cookie: the login on this connection counts.
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(priv.statusLine).toBe('HTTP/1.1 200 OK');
    expect(priv.body.toString()).toBe('PRIVILEGE_CHANGED');
    const setCookie = priv.headerLines.filter((l) => l.toLowerCase().startsWith('set-cookie:'));
    expect(setCookie).toHaveLength(1);
    const value = setCookie[0]?.slice('set-cookie:'.length).trim() ?? '';
    const parts = value.split('; ');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatch(/^key=[0-9a-f]{64}$/);
    expect(parts[1]).toBe('Max-Age=3600');
    const key = parts[0]?.slice(4);

    const twice = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(twice.statusLine).toBe('HTTP/1.1 409 Conflict');
    expect(twice.body.toString()).toBe('PRIVILEGE_ALREADY_CHANGED');

    // The seed client sends the key back as a Set-Cookie *request* header, with a JSON body on HEAD.
    const head = await c.request(
      seed000Request('HEAD', '/images', { username: 'sihaun' }, [`Set-Cookie: key=${key}; Max-Age=3600`]),
      {
        head: true,
      },
    );
    expect(head.statusLine).toBe('HTTP/1.1 200 OK');
    const noKey = await c.request(seed000Request('HEAD', '/images', { username: 'sihaun' }), { head: true });
    expect(noKey.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    const cookieKey = await c.request(seed000Request('HEAD', '/images', {}, [`Cookie: key=${key}`]), { head: true });
    expect(cookieKey.status).toBe(200);
    const wrongUser = await c.request(
      seed000Request('HEAD', '/images', { username: 'someone' }, [`Cookie: key=${key}`]),
      {
        head: true,
      },
    );
    expect(wrongUser.status).toBe(401);
    expect(c.closed).toBe(false);
    c.close();
  });

  it('POST /privilege works too; elevation for another user (body username ≠ login) is refused', async () => {
    await registerAndLogin(server.url, 'mallory');
    await registerAndLogin(server.url, 'bobby');
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'mallory', password: PASSWORD }));
    const other = await c.request(seed000Request('POST', '/privilege', { username: 'bobby' }));
    expect(other.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(other.body.toString()).toMatch(/^PRIVILEGE_FAILED/);
    const own = await c.request(seed000Request('POST', '/privilege', { username: 'mallory' }));
    expect(own.body.toString()).toBe('PRIVILEGE_CHANGED');
    c.close();
  });

  it('a login on one connection does not leak to another connection', async () => {
    await registerAndLogin(server.url, 'conn-a');
    const a = await RawConnection.open(server.port);
    const b = await RawConnection.open(server.port);
    await a.request(seed000Request('POST', '/login', { username: 'conn-a', password: PASSWORD }));
    const fromB = await b.request(seed000Request('PUT', '/privilege', { username: 'conn-a' }));
    expect(fromB.status).toBe(401);
    a.close();
    b.close();
  });

  it('privilege also accepts a session cookie or a bearer token', async () => {
    const t = await registerAndLogin(server.url, 'bearer000');
    const r = await api(server.url, 'PUT', '/privilege', { token: t.accessToken, body: '{"username":"bearer000"}' });
    expect(r.status).toBe(200);
    expect(r.text).toBe('PRIVILEGE_CHANGED');
  });

  it('a password change ends the connection login', async () => {
    const t = await registerAndLogin(server.url, 'revoked000');
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'revoked000', password: PASSWORD }));
    await api(server.url, 'PATCH', '/api/users/me', {
      token: t.accessToken,
      json: { password: 'another-pass-1', currentPassword: PASSWORD },
    });
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'revoked000' }));
    expect(priv.status).toBe(401);
    c.close();
  });

  it('bad input: malformed JSON, wrong types, garbage — seed-format errors, connection stays usable', async () => {
    const c = await RawConnection.open(server.port);
    const broken = '{"username": "x"';
    const r1 = await c.request(
      `POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${broken.length}\r\n\r\n${broken}`,
    );
    expect(r1.status).toBe(400);
    expect(r1.body.toString()).toMatch(/^REGISTER_FAILED/);
    const r2 = await c.request(seed000Request('POST', '/register', { username: 12, password: ['x'] }));
    expect(r2.status).toBe(400);
    const r3 = await c.request(seed000Request('POST', '/login', { username: 'a' }));
    expect(r3.body.toString()).toBe('LOGIN_FAILED');
    const r4 = await c.request(seed000Request('POST', '/register', { username: 'ok-name', password: 'short' }));
    expect(r4.body.toString()).toMatch(/^REGISTER_FAILED: Password must be at least 8/);
    const r5 = await c.request(seed000Request('HEAD', '/images', 'not an object'), { head: true });
    expect(r5.status).toBe(400);
    const r6 = await c.request(seed000Request('GET', '/health', {}));
    expect(r6.body.toString()).toBe('{"status":"healthy"}');
    c.close();
    const g = await RawConnection.open(server.port);
    g.write('\x00\x01garbage\r\n\r\n');
    const reply = await g.read().catch(() => undefined);
    expect(reply === undefined || reply.status === 400).toBe(true);
    g.close();
    expect((await api(server.url, 'GET', '/health')).status).toBe(200);
  });
});
