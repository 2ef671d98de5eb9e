import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { requestFrom } from '../../test/helpers/client-ip.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * A refresh token that comes back after it was rotated has been copied: the whole family (the
 * session it was rotated into, its refresh token and its access tokens) is revoked (OAuth 2.0
 * Security BCP, refresh token rotation). Except the token just replaced, presented again from the
 * same client network within PLAZA_REFRESH_REUSE_GRACE_SECONDS (30 s): a retry after a lost
 * response is refused without ending the session (decision 0004).
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
  /** A refresh from another client network (another loopback address; no proxy header is trusted). */
  const refreshFrom = async (ip: string, refreshToken: string) => {
    const r = await requestFrom(ip, `${base}/api/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken }),
    });
    return { status: r.status, body: JSON.parse(r.text) };
  };
  const me = async (accessToken: string) => (await api(base, 'GET', '/api/users/me', { token: accessToken })).status;

  it('reusing a rotated token from another network revokes the session it was rotated into, at once', async () => {
    const first = await registerAndLogin(base, 'victim');
    // Another login of the same user (another device) is a family of its own.
    const other = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'victim', password: PASSWORD } }))
      .body;
    const b = await refresh(first.refreshToken);
    expect(b.status).toBe(200);
    expect(await me(b.body.accessToken)).toBe(200);

    // Within the grace, but not from the network that rotated it: a stolen copy.
    const reuse = await refreshFrom('127.0.0.2', first.refreshToken);
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

  it('a retry of the same refresh within the grace is refused, and the session goes on', async () => {
    const a = await registerAndLogin(base, 'retrier');
    const b = await refresh(a.refreshToken);
    expect(b.status).toBe(200);
    // The response was lost; the client sends the same request again.
    const retry = await refresh(a.refreshToken);
    expect(retry.status).toBe(401);
    expect(retry.body.error).toEqual({
      code: 'INVALID_TOKEN',
      message: 'Refresh token was already used moments ago; continue with the refresh token that replaced it',
    });
    // Nothing was revoked: the access token the client holds, and the new pair, still work.
    expect(await me(a.accessToken)).toBe(200);
    expect(await me(b.body.accessToken)).toBe(200);
    const c = await refresh(b.body.refreshToken);
    expect(c.status).toBe(200);
    expect(await me(c.body.accessToken)).toBe(200);
  });

  it('two refreshes with the same token at once (two tabs): one wins, the other is refused, nothing is revoked', async () => {
    const t = await registerAndLogin(base, 'twotabs');
    const both = await Promise.all([refresh(t.refreshToken), refresh(t.refreshToken)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
    expect(both.find((r) => r.status === 401)?.body.error.message).toMatch(/already used moments ago/);
    const winner = both.find((r) => r.status === 200)?.body;
    expect(await me(winner.accessToken)).toBe(200);
    expect((await refresh(winner.refreshToken)).status).toBe(200);
  });

  it('the grace is no second chance for a stolen token: a retry of it after a newer rotation revokes', async () => {
    const a = await registerAndLogin(base, 'graceonce');
    const b = (await refresh(a.refreshToken)).body;
    expect((await refresh(a.refreshToken)).status).toBe(401);
    // The holder of B rotates again: A is no longer the token just replaced.
    const c = (await refresh(b.refreshToken)).body;
    const late = await refresh(a.refreshToken);
    expect(late.status).toBe(401);
    expect(late.body.error.message).toMatch(/its session has been ended/);
    expect(await me(c.accessToken)).toBe(401);
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

describe.each(await testDatabases())('refresh token reuse after the grace on %s', (db) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_REFRESH_REUSE_GRACE_SECONDS: '1' });
  });
  afterAll(() => server.close());

  it('the token just replaced, presented again once the grace is over, revokes the family', async () => {
    const a = await registerAndLogin(server.url, 'aftergrace');
    const b = await api(server.url, 'POST', '/api/auth/refresh', { json: { refreshToken: a.refreshToken } });
    expect(b.status).toBe(200);
    const rotatedAt = Date.now();
    // No event to wait for: the grace is a span of time (1 s here), so the test lets it pass.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, rotatedAt + 1100 - Date.now())));
    const late = await api(server.url, 'POST', '/api/auth/refresh', { json: { refreshToken: a.refreshToken } });
    expect(late.status).toBe(401);
    expect(late.body.error.message).toMatch(/already used; its session has been ended/);
    expect((await api(server.url, 'GET', '/api/users/me', { token: b.body.accessToken })).status).toBe(401);
    const again = await api(server.url, 'POST', '/api/auth/refresh', { json: { refreshToken: b.body.refreshToken } });
    expect(again.status).toBe(401);
  });
});
