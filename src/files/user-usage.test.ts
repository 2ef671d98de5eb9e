import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

// GET /api/users/{id}/usage: the admin's users table shows each user's storage use and quota.
describe('a user\'s storage use and quota', () => {
  let server: TestServer;
  let base: string;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_ADMIN_USERNAME: 'root', PLAZA_ADMIN_PASSWORD: PASSWORD, PLAZA_USER_QUOTA_BYTES: '1000000' });
    base = server.url;
    admin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'root', password: PASSWORD } })).body.accessToken;
  });
  afterAll(() => server.close());

  it('an admin sees anyone\'s; a user only their own; unknown users are 404', async () => {
    const olga = await registerAndLogin(base, 'olga');
    const piet = await registerAndLogin(base, 'piet');
    const up = await fetch(`${base}/api/files/raw`, { method: 'POST', headers: { authorization: `Bearer ${olga.accessToken}`, 'content-type': 'application/octet-stream', 'file-name': 'a.bin' }, body: Buffer.alloc(1234) });
    expect(up.status).toBe(201);
    expect((await api(base, 'PUT', `/api/users/${olga.user.id}/quota`, { token: admin, json: { quotaBytes: 5000 } })).status).toBe(200);

    const seen = await api(base, 'GET', `/api/users/${olga.user.id}/usage`, { token: admin });
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({ usedBytes: 1234, quotaBytes: 5000, maxUploadBytes: expect.any(Number) });
    expect((await api(base, 'GET', `/api/users/${piet.user.id}/usage`, { token: admin })).body).toMatchObject({ usedBytes: 0, quotaBytes: 1000000 });
    expect((await api(base, 'GET', `/api/users/${olga.user.id}/usage`, { token: olga.accessToken })).body.usedBytes).toBe(1234);

    const other = await api(base, 'GET', `/api/users/${olga.user.id}/usage`, { token: piet.accessToken });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
    expect((await api(base, 'GET', '/api/users/99999/usage', { token: admin })).status).toBe(404);
    expect((await api(base, 'GET', `/api/users/${olga.user.id}/usage`)).status).toBe(401);
    expect((await api(base, 'GET', '/api/users/abc/usage', { token: admin })).status).toBe(400);
  });
});
