import { afterEach, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

describe('rate limits (429 + Retry-After)', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('login per IP', async () => {
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_IP: '5/1m' });
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await api(server.url, 'POST', '/api/auth/login', {
        json: { identifier: `nobody${i}`, password: 'whatever-pw' },
      });
      codes.push(r.status);
      if (r.status === 429) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(r.body.error.code).toBe('RATE_LIMITED');
      }
    }
    expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Seed routes share the limit and answer in their own format.
    const seed = await api(server.url, 'POST', '/login', { body: '{"username":"x","password":"y"}' });
    expect(seed.status).toBe(429);
    expect(seed.text).toMatch(/^LOGIN_FAILED/);
  });

  it('per (account, IP): failures from one IP make the right password wait there too; other accounts are unaffected', async () => {
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_ACCOUNT_IP: '3/5m' });
    await registerAndLogin(server.url, 'locked');
    for (let i = 0; i < 3; i++) {
      const r = await api(server.url, 'POST', '/api/auth/login', {
        json: { identifier: 'locked', password: `bad-guess-${i}` },
      });
      expect(r.status).toBe(401);
    }
    const right = await api(server.url, 'POST', '/api/auth/login', {
      json: { identifier: 'LOCKED', password: PASSWORD },
    });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(200);
    // Other accounts are unaffected, from the same IP too.
    await registerAndLogin(server.url, 'free');
  });

  it('per (account, IP): parallel guesses are counted, and username and email share one budget', async () => {
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_ACCOUNT_IP: '3/1m' });
    await registerAndLogin(server.url, 'parallel', PASSWORD, 'parallel@x.io');
    const url = server.url;
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(url, 'POST', '/api/auth/login', { json: { identifier: i % 2 ? 'parallel' : 'PARALLEL@x.io', password: `guess-${i}-pw` } }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
  });

  it('IPv6 clients are counted per /64: rotating addresses inside it does not reset the count', async () => {
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_ACCOUNT_IP: '2/5m', PLAZA_TRUST_PROXY: '127.0.0.1' });
    await registerAndLogin(server.url, 'six');
    const from = (ip: string, password: string) =>
      api(server?.url ?? '', 'POST', '/api/auth/login', {
        json: { identifier: 'six', password },
        headers: { 'x-forwarded-for': ip },
      });
    expect((await from('2001:db8:1:2::a', 'guess-one')).status).toBe(401);
    expect((await from('2001:db8:1:2::b', 'guess-two')).status).toBe(401);
    expect((await from('2001:db8:1:2:ffff::c', 'guess-three')).status).toBe(429);
    expect((await from('2001:db8:1:3::a', PASSWORD)).status).toBe(200);
  });

  it('register per IP, elevation per account and per IP', async () => {
    server = await startTestServer('sqlite', {
      PLAZA_RATE_REGISTER_IP: '2/1h',
      PLAZA_RATE_ELEVATE_ACCOUNT: '1/1h',
      PLAZA_RATE_ELEVATE_IP: '2/1h',
    });
    const t = await registerAndLogin(server.url, 'reg1');
    await api(server.url, 'POST', '/api/auth/register', { json: { username: 'reg2', password: PASSWORD } });
    const third = await api(server.url, 'POST', '/api/auth/register', {
      json: { username: 'reg3', password: PASSWORD },
    });
    expect(third.status).toBe(429);
    expect((await api(server.url, 'POST', '/api/auth/elevate', { token: t.accessToken })).status).toBe(201);
    const again = await api(server.url, 'POST', '/api/auth/elevate', { token: t.accessToken });
    expect(again.status).toBe(429);
    // A second account from the same IP hits the per-IP limit (2 attempts counted so far).
    const other = await api(server.url, 'POST', '/api/auth/login', { json: { identifier: 'reg2', password: PASSWORD } });
    const byIp = await api(server.url, 'POST', '/api/auth/elevate', { token: other.body.accessToken });
    expect(byIp.status).toBe(429);
    expect(byIp.body.error.code).toBe('RATE_LIMITED');
  });

  it('a login flood gets 401/429, never 500, and other routes keep answering', async () => {
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_IP: '50/1m' });
    const url = server.url;
    const flood = Array.from({ length: 300 }, (_, i) =>
      api(url, 'POST', '/api/auth/login', { json: { identifier: `flood${i % 7}`, password: 'flood-password' } }),
    );
    const t0 = performance.now();
    const health = await api(url, 'GET', '/api/health');
    const healthMs = performance.now() - t0;
    const results = await Promise.all(flood);
    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].every((s) => s === 401 || s === 429)).toBe(true);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(250);
    expect(health.status).toBe(200);
    expect(healthMs).toBeLessThan(5000);
    expect((await api(url, 'GET', '/health')).body).toEqual({ status: 'healthy' });
  });
});
