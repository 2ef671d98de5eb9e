import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const ADMIN_PASSWORD = 'admin-password-1';

describe.each(await testDatabases())('accounts API on %s', (db) => {
  let server: TestServer;
  let base: string;
  let adminToken: string;

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'root', PLAZA_ADMIN_PASSWORD: ADMIN_PASSWORD });
    base = server.url;
    const login = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'root', password: ADMIN_PASSWORD },
    });
    adminToken = login.body.accessToken;
  });
  afterAll(() => server.close());

  it('creates the first admin from the environment', async () => {
    const me = await api(base, 'GET', '/api/users/me', { token: adminToken });
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ username: 'root', role: 'admin', disabled: false });
    expect(server.banner.join('\n')).toContain('Created the first admin "root"');
  });

  it('registers, logs in by username or email, and answers who-am-I', async () => {
    const reg = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'Alice', email: 'Alice@Example.com', password: PASSWORD },
    });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toMatchObject({ username: 'alice', email: 'alice@example.com', role: 'user' });
    expect(JSON.stringify(reg.body)).not.toContain('hash');

    for (const identifier of ['alice', 'ALICE', 'alice@example.com']) {
      const login = await api(base, 'POST', '/api/auth/login', { json: { identifier, password: PASSWORD } });
      expect(login.status).toBe(200);
      expect(login.body.tokenType).toBe('Bearer');
      expect(login.body.expiresIn).toBe(1800);
      const me = await api(base, 'GET', '/api/auth/me', { token: login.body.accessToken });
      expect(me.body).toMatchObject({ user: { username: 'alice' }, via: 'bearer', accessKey: { active: false } });
    }
  });

  it('rejects taken usernames and emails case-insensitively', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'dup', email: 'dup@x.io', password: PASSWORD } });
    const a = await api(base, 'POST', '/api/auth/register', { json: { username: 'DUP', password: PASSWORD } });
    expect(a.status).toBe(409);
    expect(a.body.error.code).toBe('USERNAME_TAKEN');
    const b = await api(base, 'POST', '/api/auth/register', {
      json: { username: 'dup2', email: 'DUP@x.io', password: PASSWORD },
    });
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('EMAIL_TAKEN');
  });

  it('derives a username from an email-only registration', async () => {
    const r = await api(base, 'POST', '/api/auth/register', {
      json: { email: 'jane.doe+x@corp.io', password: PASSWORD },
    });
    expect(r.status).toBe(201);
    expect(r.body.user.username).toMatch(/^jane\.doe_x/);
    const again = await api(base, 'POST', '/api/auth/register', {
      json: { email: 'jane.doe+x@other.io', password: PASSWORD },
    });
    expect(again.status).toBe(201);
    expect(again.body.user.username).not.toBe(r.body.user.username);
  });

  it('answers the same 401 for unknown users and wrong passwords', async () => {
    await registerAndLogin(base, 'timing');
    const unknown = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'nobody-here', password: PASSWORD },
    });
    const wrong = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'timing', password: 'wrong-password' },
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.body.error.code).toBe('INVALID_CREDENTIALS');
  });

  it('takes about as long for an unknown user as for a wrong password (dummy hash)', async () => {
    await registerAndLogin(base, 'timing2');
    const time = async (identifier: string) => {
      const t0 = performance.now();
      const r = await api(base, 'POST', '/api/auth/login', { json: { identifier, password: 'not-the-password' } });
      expect(r.status).toBe(401);
      return performance.now() - t0;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const unknown: number[] = [];
    const known: number[] = [];
    for (let i = 0; i < 7; i++) {
      unknown.push(await time(`ghost-${i}`));
      known.push(await time('timing2'));
    }
    // Both paths run one argon2id verification; a missing one would be ~10x faster. Loose bounds: shared machine.
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.4);
    expect(ratio).toBeLessThan(2.5);
  });

  it('renews bearer tokens with a rotating refresh token', async () => {
    const t = await registerAndLogin(base, 'refresher');
    const r1 = await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: t.refreshToken } });
    expect(r1.status).toBe(200);
    expect(r1.body.refreshToken).not.toBe(t.refreshToken);
    const me = await api(base, 'GET', '/api/users/me', { token: r1.body.accessToken });
    expect(me.body.user.username).toBe('refresher');
    const reuse = await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: t.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('INVALID_TOKEN');
  });

  it('logout revokes the bearer token and the session', async () => {
    const t = await registerAndLogin(base, 'leaver');
    const out = await api(base, 'POST', '/api/auth/logout', { token: t.accessToken });
    expect(out.status).toBe(200);
    const me = await api(base, 'GET', '/api/users/me', { token: t.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.error.message).toMatch(/revoked/);
    const refresh = await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: t.refreshToken } });
    expect(refresh.status).toBe(401);
  });

  it('browser sessions: HttpOnly SameSite=Lax cookie, stolen cookie useless after logout', async () => {
    await registerAndLogin(base, 'browser');
    const login = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'browser', password: PASSWORD, session: 'cookie' },
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.getSetCookie().find((c) => c.startsWith('plaza_session='));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\//);
    const cookie = cookieFrom(login.headers, 'plaza_session');
    expect(cookie).toBeDefined();
    const me = await api(base, 'GET', '/api/auth/me', { cookie });
    expect(me.body.via).toBe('cookie');
    const sessions = await api(base, 'GET', '/api/auth/sessions', { cookie });
    expect(sessions.body.sessions.some((s: { current: boolean }) => s.current)).toBe(true);

    const out = await api(base, 'POST', '/api/auth/logout', { cookie });
    expect(out.status).toBe(200);
    const stolen = await api(base, 'GET', '/api/auth/me', { cookie });
    expect(stolen.status).toBe(401);
  });

  it('refuses cross-site unsafe requests carrying a cookie (CSRF)', async () => {
    await registerAndLogin(base, 'csrfuser');
    const login = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'csrfuser', password: PASSWORD, session: 'cookie' },
    });
    const cookie = cookieFrom(login.headers, 'plaza_session');
    const evil = await api(base, 'PATCH', '/api/users/me', {
      cookie,
      json: { email: 'evil@attacker.io' },
      headers: { origin: 'https://attacker.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(evil.status).toBe(403);
    expect(evil.body.error.code).toBe('CSRF_REJECTED');
    const originOnly = await api(base, 'POST', '/api/auth/logout', {
      cookie,
      headers: { origin: 'https://attacker.example' },
    });
    expect(originOnly.status).toBe(403);
    const same = await api(base, 'PATCH', '/api/users/me', {
      cookie,
      json: { email: 'csrf@ok.io' },
      headers: { origin: base, 'sec-fetch-site': 'same-origin' },
    });
    expect(same.status).toBe(200);
    expect(same.body.user.email).toBe('csrf@ok.io');
  });

  it('password change needs the current password and ends other sessions', async () => {
    const first = await registerAndLogin(base, 'changer');
    const second = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'changer', password: PASSWORD } });
    const bad = await api(base, 'PATCH', '/api/users/me', {
      token: first.accessToken,
      json: { password: 'new-password-2', currentPassword: 'not-it-at-all' },
    });
    expect(bad.status).toBe(401);
    const missing = await api(base, 'PATCH', '/api/users/me', {
      token: first.accessToken,
      json: { password: 'new-password-2' },
    });
    expect(missing.status).toBe(401);
    const weak = await api(base, 'PATCH', '/api/users/me', {
      token: first.accessToken,
      json: { password: 'short', currentPassword: PASSWORD },
    });
    expect(weak.status).toBe(400);
    const ok = await api(base, 'PATCH', '/api/users/me', {
      token: first.accessToken,
      json: { password: 'new-password-2', currentPassword: PASSWORD },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.revokedSessions).toBeGreaterThanOrEqual(1);
    expect((await api(base, 'GET', '/api/users/me', { token: first.accessToken })).status).toBe(200);
    expect((await api(base, 'GET', '/api/users/me', { token: second.body.accessToken })).status).toBe(401);
    const oldPw = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'changer', password: PASSWORD } });
    expect(oldPw.status).toBe(401);
    const newPw = await api(base, 'POST', '/api/auth/login', {
      json: { identifier: 'changer', password: 'new-password-2' },
    });
    expect(newPw.status).toBe(200);
  });

  it('a stolen token stops working the moment a password change answers (no cache window)', async () => {
    const victim = await registerAndLogin(base, 'stolen');
    const thief = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'stolen', password: PASSWORD } });
    const stolen = thief.body.accessToken as string;
    // Keep the thief's session hot in the cache while the owner changes the password.
    let stop = false;
    const hammer = (async () => {
      while (!stop) await api(base, 'GET', '/api/users/me', { token: stolen });
    })();
    const change = await api(base, 'PATCH', '/api/users/me', {
      token: victim.accessToken,
      json: { password: 'fresh-password-9', currentPassword: PASSWORD },
    });
    expect(change.status).toBe(200);
    const after = await Promise.all(Array.from({ length: 5 }, () => api(base, 'GET', '/api/users/me', { token: stolen })));
    stop = true;
    await hammer;
    expect(after.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
  });

  it('a profile update that fails changes nothing (email taken → password unchanged)', async () => {
    await registerAndLogin(base, 'holder', PASSWORD, 'held@x.io');
    const u = await registerAndLogin(base, 'atomic');
    const r = await api(base, 'PATCH', '/api/users/me', {
      token: u.accessToken,
      json: { email: 'held@x.io', password: 'other-password-1', currentPassword: PASSWORD },
    });
    expect(r.status).toBe(409);
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'atomic', password: PASSWORD } })).status).toBe(200);
  });

  it('applies SPEC §2 visibility: admin sees all, a user only themself, others are 404', async () => {
    const u1 = await registerAndLogin(base, 'vis1');
    const u2 = await registerAndLogin(base, 'vis2');
    const list = await api(base, 'GET', '/api/users', { token: u1.accessToken });
    expect(list.body.users.map((u: { username: string }) => u.username)).toEqual(['vis1']);
    expect((await api(base, 'GET', `/api/users/${u1.user.id}`, { token: u1.accessToken })).status).toBe(200);
    const other = await api(base, 'GET', `/api/users/${u2.user.id}`, { token: u1.accessToken });
    expect(other.status).toBe(404);
    const missing = await api(base, 'GET', '/api/users/999999', { token: u1.accessToken });
    expect(missing.body).toEqual(other.body);
    const all = await api(base, 'GET', '/api/users?limit=500', { token: adminToken });
    expect(all.body.total).toBeGreaterThanOrEqual(3);
    expect(all.body.users.some((u: { username: string }) => u.username === 'vis2')).toBe(true);
    expect((await api(base, 'GET', `/api/users/${u2.user.id}`, { token: adminToken })).status).toBe(200);
    expect((await api(base, 'GET', '/api/users')).status).toBe(401);
  });

  it('admin updates role and disables users; disabling ends their sessions', async () => {
    const u = await registerAndLogin(base, 'target');
    const notAdmin = await api(base, 'PATCH', `/api/users/${u.user.id}`, {
      token: u.accessToken,
      json: { role: 'admin' },
    });
    expect(notAdmin.status).toBe(403);
    const promote = await api(base, 'PATCH', `/api/users/${u.user.id}`, { token: adminToken, json: { role: 'admin' } });
    expect(promote.body.user.role).toBe('admin');
    const disable = await api(base, 'PATCH', `/api/users/${u.user.id}`, {
      token: adminToken,
      json: { disabled: true },
    });
    expect(disable.body.user.disabled).toBe(true);
    expect((await api(base, 'GET', '/api/users/me', { token: u.accessToken })).status).toBe(401);
    const relogin = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'target', password: PASSWORD } });
    expect(relogin.status).toBe(403);
    expect(relogin.body.error.code).toBe('ACCOUNT_DISABLED');
    await api(base, 'PATCH', `/api/users/${u.user.id}`, { token: adminToken, json: { disabled: false } });
    expect(
      (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'target', password: PASSWORD } })).status,
    ).toBe(200);
  });

  it('admin creates and deletes users; the last admin cannot be removed', async () => {
    const created = await api(base, 'POST', '/api/users', {
      token: adminToken,
      json: { username: 'made-by-admin', password: PASSWORD, role: 'user' },
    });
    expect(created.status).toBe(201);
    const del = await api(base, 'DELETE', `/api/users/${created.body.user.id}`, { token: adminToken });
    expect(del.status).toBe(200);
    const again = await api(base, 'DELETE', `/api/users/${created.body.user.id}`, { token: adminToken });
    expect(again.status).toBe(404);
    const me = await api(base, 'GET', '/api/users/me', { token: adminToken });
    const admins = await api(base, 'GET', '/api/users?limit=500', { token: adminToken });
    for (const u of admins.body.users) {
      if (u.role === 'admin' && u.id !== me.body.user.id) {
        await api(base, 'PATCH', `/api/users/${u.id}`, { token: adminToken, json: { role: 'user' } });
      }
    }
    const self = await api(base, 'DELETE', `/api/users/${me.body.user.id}`, { token: adminToken });
    expect(self.status).toBe(409);
    expect(self.body.error.code).toBe('LAST_ADMIN');
  });

  it('two admins demoting each other at once leave one admin', async () => {
    for (const name of ['duo-a', 'duo-b']) {
      await api(base, 'POST', '/api/users', { token: adminToken, json: { username: name, password: PASSWORD, role: 'admin' } });
    }
    const all = await api(base, 'GET', '/api/users?limit=500', { token: adminToken });
    // Leave exactly duo-a and duo-b as the active admins.
    for (const u of all.body.users) {
      if (u.role === 'admin' && !u.username.startsWith('duo-')) {
        const a = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'duo-a', password: PASSWORD } });
        await api(base, 'PATCH', `/api/users/${u.id}`, { token: a.body.accessToken, json: { role: 'user' } });
      }
    }
    const a = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'duo-a', password: PASSWORD } });
    const b = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'duo-b', password: PASSWORD } });
    const [ra, rb] = await Promise.all([
      api(base, 'PATCH', `/api/users/${b.body.user.id}`, { token: a.body.accessToken, json: { role: 'user' } }),
      api(base, 'PATCH', `/api/users/${a.body.user.id}`, { token: b.body.accessToken, json: { role: 'user' } }),
    ]);
    // The loser is refused either as already demoted (403) or as the last admin (409).
    const statuses = [ra.status, rb.status].sort();
    expect(statuses[0]).toBe(200);
    expect([403, 409]).toContain(statuses[1]);
    const after = await api(base, 'GET', '/api/users?limit=500', { token: ra.status === 200 ? a.body.accessToken : b.body.accessToken });
    expect(after.body.users.filter((u: { role: string; disabled: boolean }) => u.role === 'admin' && !u.disabled)).toHaveLength(1);
    // Give the suite its admin back.
    adminToken = (ra.status === 200 ? a : b).body.accessToken;
  });

  it('elevation: a 1-hour key, 409 while valid, presented three ways', async () => {
    const u = await registerAndLogin(base, 'elevator');
    const e1 = await api(base, 'POST', '/api/auth/elevate', { token: u.accessToken });
    expect(e1.status).toBe(201);
    expect(e1.body.key).toMatch(/^[0-9a-f]{64}$/);
    expect(e1.body.expiresAt - Date.now()).toBeGreaterThan(3590_000);
    const e2 = await api(base, 'POST', '/api/auth/elevate', { token: u.accessToken });
    expect(e2.status).toBe(409);
    expect(e2.body.error.code).toBe('ACCESS_KEY_ACTIVE');
    const key = e1.body.key as string;
    for (const headers of [
      { 'x-plaza-key': key },
      { cookie: `key=${key}` },
      { 'set-cookie': `key=${key}; Max-Age=3600` },
    ] as Record<string, string>[]) {
      const check = await api(base, 'GET', '/api/auth/elevation', { headers });
      expect(check.body).toMatchObject({ valid: true, userId: u.user.id });
    }
    const forged = await api(base, 'GET', '/api/auth/elevation', { headers: { 'x-plaza-key': 'a'.repeat(64) } });
    expect(forged.body.valid).toBe(false);
    // Bound to its user: another user's login with this key is not valid.
    const other = await registerAndLogin(base, 'elevator2');
    const mixed = await api(base, 'GET', '/api/auth/elevation', {
      token: other.accessToken,
      headers: { 'x-plaza-key': key },
    });
    expect(mixed.body.valid).toBe(false);
    expect((await api(base, 'POST', '/api/auth/elevate')).status).toBe(401);
  });

  it('a user cannot read or change another user through ids', async () => {
    const a = await registerAndLogin(base, 'idor-a');
    const b = await registerAndLogin(base, 'idor-b');
    expect(
      (await api(base, 'PATCH', `/api/users/${b.user.id}`, { token: a.accessToken, json: { disabled: true } })).status,
    ).toBe(403);
    expect((await api(base, 'DELETE', `/api/users/${b.user.id}`, { token: a.accessToken })).status).toBe(403);
    const sessions = await api(base, 'GET', '/api/auth/sessions', { token: b.accessToken });
    const bSession = sessions.body.sessions[0].id;
    expect((await api(base, 'DELETE', `/api/auth/sessions/${bSession}`, { token: a.accessToken })).status).toBe(404);
    expect((await api(base, 'GET', '/api/users/me', { token: b.accessToken })).status).toBe(200);
  });
});
