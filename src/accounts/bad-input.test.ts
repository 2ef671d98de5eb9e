import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe.each(await testDatabases())('accounts bad input on %s', (db) => {
  let server: TestServer;
  let base: string;
  let user: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_BODY_LIMIT_BYTES: '65536' });
    base = server.url;
    user = await registerAndLogin(base, 'victim');
  });
  afterAll(() => server.close());

  async function expectHealthy() {
    const h = await api(base, 'GET', '/health');
    expect(h.body).toEqual({ status: 'healthy' });
  }

  it('malformed JSON, wrong types, missing and extra fields get a 4xx with the error shape', async () => {
    const cases: { body: string; type?: string; code: string; status: number }[] = [
      { body: '{"username": "x", ', code: 'INVALID_JSON', status: 400 },
      { body: '', code: 'INVALID_JSON', status: 400 },
      { body: 'null', code: 'VALIDATION_FAILED', status: 400 },
      { body: '[]', code: 'VALIDATION_FAILED', status: 400 },
      { body: '"str"', code: 'VALIDATION_FAILED', status: 400 },
      { body: '{"username": 5, "password": "correct-horse-9"}', code: 'VALIDATION_FAILED', status: 400 },
      { body: '{"username": "okname"}', code: 'VALIDATION_FAILED', status: 400 },
      {
        body: '{"username": "okname", "password": "correct-horse-9", "role": "admin"}',
        code: 'VALIDATION_FAILED',
        status: 400,
      },
      { body: '{"username": "okname", "password": {"$gt": ""}}', code: 'VALIDATION_FAILED', status: 400 },
      {
        body: 'username=a&password=b',
        type: 'application/x-www-form-urlencoded',
        code: 'UNSUPPORTED_MEDIA_TYPE',
        status: 415,
      },
      { body: 'hello', type: 'text/plain', code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 },
      { body: '{}', type: 'application/xml', code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 },
      { body: '{"a":1}', type: 'application/json; charset=utf-8', code: 'VALIDATION_FAILED', status: 400 },
    ];
    for (const c of cases) {
      for (const path of ['/api/auth/register', '/api/auth/login']) {
        const r = await api(base, 'POST', path, {
          body: c.body,
          headers: { 'content-type': c.type ?? 'application/json' },
        });
        expect(r.status, `${path} ${c.body}`).toBe(c.status);
        expect(typeof r.body.error.code).toBe('string');
        expect(typeof r.body.error.message).toBe('string');
      }
    }
    await expectHealthy();
  });

  it('a huge body is 413, a huge password or username is a 400, never a 500', async () => {
    const big = await api(base, 'POST', '/api/auth/register', {
      body: JSON.stringify({ username: 'big', password: 'x'.repeat(200_000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const longPw = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'longpw', password: 'p'.repeat(3000) },
    });
    expect(longPw.status).toBe(400);
    expect(longPw.body.error.message).toMatch(/at most 128/);
    const longName = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'u'.repeat(60), password: PASSWORD },
    });
    expect(longName.status).toBe(400);
    const loginLong = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'victim', password: 'p'.repeat(4000) },
    });
    expect(loginLong.status).toBe(401);
    await expectHealthy();
  });

  it('rejects Unicode look-alikes, SQL metacharacters and control characters in usernames', async () => {
    for (const username of [
      'vіctim',
      'ｖｉｃｔｉｍ',
      "x' OR '1'='1",
      'a;drop table users;--',
      'ab',
      'a b c',
      'nul\u0000byte',
      '../etc',
    ]) {
      const r = await api(base, 'POST', '/api/auth/register', { json: { username, password: PASSWORD } });
      expect(r.status, username).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const sqlLogin = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: "victim' --", password: "' OR 1=1 --" },
    });
    expect(sqlLogin.status).toBe(401);
    const emailLookalike = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'fullwidth', email: 'ｖｉｃｔｉｍ@example.com', password: PASSWORD },
    });
    expect(emailLookalike.status).toBe(201);
    expect(emailLookalike.body.user.email).toBe('victim@example.com');
    const clash = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'plainwidth', email: 'victim@example.com', password: PASSWORD },
    });
    expect(clash.status).toBe(409);
    await expectHealthy();
  });

  it('forged, expired, alg:none and wrong-key JWTs are 401 INVALID_TOKEN', async () => {
    const [h, p] = user.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const wrongKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('some-other-secret-some-other-secret'));
    const tampered = `${h}.${b64({ ...claims, sub: '999' })}.${user.accessToken.split('.')[2]}`;
    const hs512 = `${b64({ alg: 'HS512', typ: 'JWT' })}.${p}.${createHmac('sha512', 'x').update('y').digest('base64url')}`;
    const longLived = await new SignJWT({ ...claims, exp: claims.exp + 10 * 86400 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('guess'));
    const expired = await server.core.accounts
      .startTokenSession(user.user as never, { ip: '127.0.0.1' })
      .then(async () => {
        const signer = (await import('./tokens.js')).createTokenSigner(
          (await import('node:fs')).readFileSync(`${server.dataDir}/secret`, 'utf8').trim(),
          60,
        );
        return (await signer.sign(user.user.id, claims.sid, Date.now() - 3600_000)).token;
      });
    for (const token of [
      none,
      wrongKey,
      tampered,
      hs512,
      longLived,
      expired,
      'garbage',
      'a.b.c',
      `${user.accessToken}x`,
    ]) {
      const r = await api(base, 'GET', '/api/users/me', { token });
      expect(r.status, token.slice(0, 40)).toBe(401);
      expect(r.body.error.code).toBe('INVALID_TOKEN');
    }
    const expiredReply = await api(base, 'GET', '/api/users/me', { token: expired });
    expect(expiredReply.body.error.message).toMatch(/expired/);
    const basic = await api(base, 'GET', '/api/users/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
    expect((await api(base, 'GET', '/api/users/me', { token: user.accessToken })).status).toBe(200);
  });

  it('control characters in login names are a plain 401 on every login route, never a 500', async () => {
    const names = ['a\u0000b', 'victim\u0000', '\u0007bell', 'x\u001f@y.z'];
    for (const identifier of names) {
      const native = await api(base, 'POST', '/api/auth/login', { json: { identifier, password: PASSWORD } });
      expect(native.status, JSON.stringify(identifier)).toBe(401);
      const s004 = await api(base, 'POST', '/auth/login', { json: { email: identifier, password: PASSWORD } });
      expect(s004.status).toBe(401);
      const s000 = await api(base, 'POST', '/login', { body: JSON.stringify({ username: identifier, password: PASSWORD }) });
      expect(s000.status).toBe(401);
      const s001 = await api(base, 'POST', '/', { body: JSON.stringify({ email: identifier, password: PASSWORD }) });
      expect(s001.status).toBe(401);
    }
    const elevated = await api(base, 'POST', '/api/auth/elevate', { token: user.accessToken });
    const raw = await RawConnection.open(server.port);
    const head = await raw.request(seed000Request('HEAD', '/images', { username: 'a\u0000b' }, [`X-Plaza-Key: ${elevated.body.key}`]), {
      head: true,
    });
    expect(head.status).toBe(401);
    raw.close();
    const bigId = await api(base, 'GET', '/users/9999999999', { token: user.accessToken });
    expect(bigId.status).toBe(404);
    await expectHealthy();
  });

  it('forged and garbage session cookies are 401, not 500', async () => {
    for (const cookie of [
      'plaza_session=forged',
      `plaza_session=${'A'.repeat(5000)}`,
      'plaza_session=%ZZ',
      'plaza_session=',
    ]) {
      const r = await api(base, 'GET', '/api/auth/me', { cookie });
      expect(r.status).toBe(401);
    }
  });

  it('path and query parameters of the wrong type are 400', async () => {
    for (const path of [
      '/api/users/abc',
      '/api/users/-1',
      '/api/users/99999999999999',
      '/api/users?limit=x',
      '/api/users?limit=100000',
      '/api/users?offset=-5',
    ]) {
      const r = await api(base, 'GET', path, { token: user.accessToken });
      expect(r.status, path).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const unknown = await api(base, 'GET', '/api/no/such/route');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
  });

  it('setup tokens: forged or reused tokens are refused', async () => {
    const r = await api(base, 'POST', '/api/setup', {
      json: { token: 'forged', username: 'sneaky', password: PASSWORD },
    });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_TOKEN');
  });
});
