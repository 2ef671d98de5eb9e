import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { AppError } from '../shared/errors.js';

describe.each(await testDatabases())('seed 004 (Adcluster) on %s', (db) => {
  let server: TestServer;
  let base: string;
  let adminToken: string;

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_ADMIN_USERNAME: 'chief',
      PLAZA_ADMIN_PASSWORD: 'chief-password-1',
      PLAZA_ADMIN_EMAIL: 'chief@ad.io',
    });
    base = server.url;
    const t = await api(base, 'POST', '/auth/login', {
      body: JSON.stringify({ email: 'chief@ad.io', password: 'chief-password-1' }),
    });
    adminToken = t.body.access_token;
  });
  afterAll(() => server.close());

  it('an unavailable failure says its real message (503 + Retry-After); only a fault is masked', async () => {
    const accounts = server.core.accounts;
    const real = accounts.verifyCredentials;
    try {
      accounts.verifyCredentials = async () => {
        throw new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly');
      };
      const down = await api(base, 'POST', '/auth/login', { json: { email: 'chief@ad.io', password: 'x' } });
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('2');
      expect(down.body).toEqual({ detail: 'The database is unavailable; retry shortly' });
      accounts.verifyCredentials = async () => {
        throw new Error('secret internals');
      };
      const fault = await api(base, 'POST', '/auth/login', { json: { email: 'chief@ad.io', password: 'x' } });
      expect(fault.status).toBe(500);
      expect(fault.body).toEqual({ detail: 'Internal Server Error' });
    } finally {
      accounts.verifyCredentials = real;
    }
  });

  it('GET /health is {"status":"healthy"}', async () => {
    const r = await api(base, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"status":"healthy"}');
  });

  it('POST /auth/register → 201 with the user; taken → 400 with detail', async () => {
    const r = await api(base, 'POST', '/auth/register', {
      json: { uemail: 'nic@ad.io', uname: 'nicchals', password: PASSWORD },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ uname: 'nicchals', uemail: 'nic@ad.io', is_active: true, role: 'user' });
    expect(r.text).not.toMatch(/password|hash/);
    const name = await api(base, 'POST', '/auth/register', {
      json: { uemail: 'other@ad.io', uname: 'nicchals', password: PASSWORD },
    });
    expect(name.status).toBe(400);
    expect(name.body).toEqual({ detail: 'Username already registered' });
    const mail = await api(base, 'POST', '/auth/register', {
      json: { uemail: 'nic@ad.io', uname: 'another', password: PASSWORD },
    });
    expect(mail.status).toBe(400);
    expect(mail.body).toEqual({ detail: 'Email already registered' });
  });

  it('POST /auth/login (email or uemail) and /auth/token (OAuth2 form) give a bearer token', async () => {
    for (const body of [
      { email: 'nic@ad.io', password: PASSWORD },
      { uemail: 'nic@ad.io', password: PASSWORD },
    ]) {
      const r = await api(base, 'POST', '/auth/login', { json: body });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ token_type: 'bearer', success: true });
      expect(typeof r.body.access_token).toBe('string');
    }
    const form = await api(base, 'POST', '/auth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=password&username=nic%40ad.io&password=${PASSWORD}`,
    });
    expect(form.status).toBe(200);
    const me = await api(base, 'GET', '/users/me', { token: form.body.access_token });
    expect(me.body).toMatchObject({ uname: 'nicchals' });
    const bad = await api(base, 'POST', '/auth/login', { json: { email: 'nic@ad.io', password: 'wrong-password' } });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ detail: 'Incorrect email or password' });
    expect(bad.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('/users/ and /users/{id} follow SPEC §2 visibility; unauthenticated → 401 Not authenticated', async () => {
    const t = await api(base, 'POST', '/auth/login', { json: { email: 'nic@ad.io', password: PASSWORD } });
    const token = t.body.access_token;
    const mine = await api(base, 'GET', '/users/', { token });
    expect(mine.body).toHaveLength(1);
    const all = await api(base, 'GET', '/users/', { token: adminToken });
    expect(all.body.length).toBeGreaterThanOrEqual(2);
    const adminId = all.body.find((u: { uname: string }) => u.uname === 'chief').id;
    expect((await api(base, 'GET', `/users/${adminId}`, { token })).status).toBe(404);
    expect((await api(base, 'GET', `/users/${mine.body[0].id}`, { token })).status).toBe(200);
    expect((await api(base, 'GET', '/users/abc', { token })).status).toBe(422);
    const anon = await api(base, 'GET', '/users/me');
    expect(anon.status).toBe(401);
    expect(anon.body).toEqual({ detail: 'Not authenticated' });
    const forged = await api(base, 'GET', '/users/me', { token: 'x.y.z' });
    expect(forged.body).toEqual({ detail: 'Could not validate credentials' });
  });

  it('POST /users/ is admin only; role in the body is honoured only for an admin', async () => {
    const t = await api(base, 'POST', '/auth/login', { json: { email: 'nic@ad.io', password: PASSWORD } });
    const denied = await api(base, 'POST', '/users/', {
      token: t.body.access_token,
      json: { uname: 'sneaky', uemail: 's@ad.io', password: PASSWORD, role: 'admin' },
    });
    expect(denied.status).toBe(403);
    const made = await api(base, 'POST', '/users/', {
      token: adminToken,
      json: { uname: 'deputy', uemail: 'd@ad.io', password: PASSWORD, role: 'admin' },
    });
    expect(made.status).toBe(201);
    expect(made.body.role).toBe('admin');
  });

  it('bad input is 422 (FastAPI style) or 400, never 500', async () => {
    const cases = ['{bad json', '[]', '{"uemail": 5, "password": "x"}', '{"uname": "a"}'];
    for (const body of cases) {
      const r = await api(base, 'POST', '/auth/register', { body, headers: { 'content-type': 'application/json' } });
      expect([400, 422]).toContain(r.status);
      expect(r.body.detail).toBeDefined();
      const l = await api(base, 'POST', '/auth/login', { body, headers: { 'content-type': 'application/json' } });
      expect([401, 422]).toContain(l.status);
    }
    const huge = await api(base, 'POST', '/auth/login', { body: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect((await api(base, 'GET', '/health')).status).toBe(200);
  });
});
