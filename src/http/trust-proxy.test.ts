import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { requestOnce } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { trustProxyWarning } from '../server.js';

/**
 * PLAZA_TRUST_PROXY names the proxies whose X-Forwarded-For is believed: here 127.0.0.1 is the
 * proxy, 127.0.0.2 a client that reaches the port directly. The address a login came from is
 * visible in the caller's session list.
 */
async function loginIp(server: TestServer, from: string, forwardedFor: string) {
  const body = JSON.stringify({ username: 'proxied', password: PASSWORD });
  const login = await requestOnce(
    server.port,
    ['POST /api/auth/login HTTP/1.1', 'Content-Type: application/json', `X-Forwarded-For: ${forwardedFor}`],
    body,
    { from },
  );
  expect(login.status).toBe(200);
  const { accessToken } = JSON.parse(login.body.toString()) as { accessToken: string };
  const list = await requestOnce(server.port, ['GET /api/auth/sessions HTTP/1.1', `Authorization: Bearer ${accessToken}`]);
  const sessions = JSON.parse(list.body.toString()).sessions as { ip: string; current: boolean }[];
  return sessions.find((s) => s.current)!.ip;
}

describe('PLAZA_TRUST_PROXY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_TRUST_PROXY: '127.0.0.1' });
    await registerAndLogin(server.url, 'proxied');
  });
  afterAll(() => server.close());

  it('X-Forwarded-For from a trusted proxy names the client', async () => {
    expect(await loginIp(server, '127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
  });

  it('X-Forwarded-For from anyone else is ignored: the socket address counts', async () => {
    expect(await loginIp(server, '127.0.0.2', '203.0.113.10')).toBe('127.0.0.2');
  });

  it('a hop count trusts that many hops, whoever they are (Fastify alone would trust none)', async () => {
    const hops = await startTestServer('sqlite', { PLAZA_TRUST_PROXY: '1' });
    try {
      await registerAndLogin(hops.url, 'proxied');
      expect(await loginIp(hops, '127.0.0.2', '198.51.100.1, 203.0.113.11')).toBe('203.0.113.11');
    } finally {
      await hops.close();
    }
  });

});

describe('the start warning while proxies are trusted', () => {
  it('names the trusted proxies, and warns a hop count trusts whoever connects', () => {
    expect(trustProxyWarning(false)).toBeUndefined();
    expect(trustProxyWarning(['10.0.0.0/8', '127.0.0.1'])).toMatch(/^PLAZA_TRUST_PROXY is on: X-Forwarded-For from 10\.0\.0\.0\/8, 127\.0\.0\.1 names/);
    expect(trustProxyWarning(1)).toMatch(/nearest 1 hop.*must not reach this port except through the proxy/);
  });
});
