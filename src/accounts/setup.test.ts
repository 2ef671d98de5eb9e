import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

describe('first admin through the one-time setup link', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    const link = server.banner.find((l) => l.includes('/setup?token='))?.trim() ?? '';
    token = new URL(link).searchParams.get('token') ?? '';
  });
  afterAll(() => server.close());

  it('a failed attempt (taken name, weak password) does not spend the link; it then works exactly once', async () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await registerAndLogin(server.url, 'taken');
    const taken = await api(server.url, 'POST', '/api/setup', { json: { token, username: 'taken', password: PASSWORD } });
    expect(taken.status).toBe(409);
    const weak = await api(server.url, 'POST', '/api/setup', { json: { token, username: 'chief', password: 'weak' } });
    expect(weak.status).toBe(400);
    const ok = await api(server.url, 'POST', '/api/setup', { json: { token, username: 'chief', password: PASSWORD } });
    expect(ok.status).toBe(201);
    expect(ok.body.user.role).toBe('admin');
    const again = await api(server.url, 'POST', '/api/setup', { json: { token, username: 'chief2', password: PASSWORD } });
    expect(again.status).toBe(403);
  });

  it('the HTML form posts to /setup and redirects to the login page', async () => {
    const page = await api(server.url, 'GET', `/setup?token=${token}`);
    expect(page.text).toContain('Setup is complete');
  });
});
