import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * A refresh token that comes back after it was rotated has been copied: the whole family (the
 * session it was rotated into, its refresh token and its access tokens) is revoked (OAuth 2.0
 * Security BCP, refresh token rotation).
 */
describe.each(await testDatabases())('refresh token reuse on %s', (db) => {
  let server: TestServer;
  let base: string;
  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
  });
  afterAll(() => server.close());

  const refresh = (refreshToken: string) => api(base, 'POST', '/api/auth/refresh', { json: { refreshToken } });
  const me = async (accessToken: string) => (await api(base, 'GET', '/api/users/me', { token: accessToken })).status;

  it('reusing a rotated token revokes the session it was rotated into', async () => {
    const first = await registerAndLogin(base, 'victim');
    // Another login of the same user (another device) is a family of its own.
    const other = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'victim', password: PASSWORD } }))
      .body;
    const b = await refresh(first.refreshToken);
    expect(b.status).toBe(200);
    expect(await me(b.body.accessToken)).toBe(200);

    const reuse = await refresh(first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('INVALID_TOKEN');
    expect(reuse.body.error.message).toMatch(/already used; its session has been ended/);

    expect((await refresh(b.body.refreshToken)).status).toBe(401);
    expect(await me(b.body.accessToken)).toBe(401);
    expect(await me(first.accessToken)).toBe(401);
    expect(await me(other.accessToken)).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('any earlier token of the chain counts, not only the last one', async () => {
    const a = await registerAndLogin(base, 'chain');
    const b = (await refresh(a.refreshToken)).body;
    const c = (await refresh(b.refreshToken)).body;
    expect(await me(c.accessToken)).toBe(200);
    expect((await refresh(a.refreshToken)).status).toBe(401);
    expect(await me(c.accessToken)).toBe(401);
    expect((await refresh(c.refreshToken)).status).toBe(401);
  });

  it('two refreshes with the same token at once (two tabs): one wins, then the family is revoked', async () => {
    const t = await registerAndLogin(base, 'twotabs');
    const both = await Promise.all([refresh(t.refreshToken), refresh(t.refreshToken)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = both.find((r) => r.status === 200)?.body;
    expect((await refresh(winner.refreshToken)).status).toBe(401);
    expect(await me(winner.accessToken)).toBe(401);
  });

  it('replaced tokens go with their session (deleting the user removes them)', async () => {
    const t = await registerAndLogin(base, 'leaving');
    const b = await refresh(t.refreshToken);
    await refresh(b.body.refreshToken);
    const { sessionId } = await server.core.accounts.authenticateBearer(b.body.accessToken);
    const kept = () =>
      server.core.database.db
        .selectFrom('rotated_refresh_tokens')
        .select('token_hash')
        .where('session_id', '=', sessionId)
        .execute();
    expect(await kept()).toHaveLength(2);
    await server.core.accounts.removeUnchecked(t.user.id);
    expect(await kept()).toEqual([]);
  });

  it('a token that was never issued is refused and revokes nothing', async () => {
    const t = await registerAndLogin(base, 'bystander');
    expect((await refresh('never-issued-token-value-1234567890')).status).toBe(401);
    expect(await me(t.accessToken)).toBe(200);
  });
});
