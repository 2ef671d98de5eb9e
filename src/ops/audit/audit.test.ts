import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../../test/helpers/api.js';
import { testDatabases } from '../../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../../test/helpers/server.js';
import { PNG } from '../../../test/helpers/files.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config.js';
import { connectDatabase } from '../../db/connect.js';
import { migrateToLatest } from '../../db/migrations/index.js';
import { systemClock } from '../../shared/clock.js';
import { createAuditLog } from './audit.service.js';

interface Entry {
  id: number;
  at: number;
  action: string;
  outcome: string;
  actor: { id: number | null; username: string | null };
  ip: string | null;
  target: string | null;
  detail: Record<string, unknown> | null;
}

describe('config', () => {
  it('PLAZA_AUDIT_RETENTION_DAYS and the console limits are read and checked', () => {
    expect(loadConfig({}).audit).toEqual({ retentionDays: 365 });
    expect(loadConfig({ PLAZA_AUDIT_RETENTION_DAYS: '0' }).audit).toEqual({ retentionDays: 0 });
    expect(() => loadConfig({ PLAZA_AUDIT_RETENTION_DAYS: 'forever' })).toThrow(/PLAZA_AUDIT_RETENTION_DAYS/);
    expect(loadConfig({}).console).toEqual({ timeoutMs: 5000, maxRows: 1000, exportMaxRows: 100_000, maxSqlChars: 20_000 });
    expect(() => loadConfig({ PLAZA_CONSOLE_TIMEOUT_MS: '5' })).toThrow(/PLAZA_CONSOLE_TIMEOUT_MS/);
    expect(() => loadConfig({ PLAZA_CONSOLE_MAX_ROWS: '-1' })).toThrow(/PLAZA_CONSOLE_MAX_ROWS/);
  });
});

describe('audit writes', () => {
  it('writes the events recorded together in one insert; record never waits', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-audit-'));
    const database = await connectDatabase({ database: { kind: 'sqlite', file: path.join(dir, 'plaza.db') } });
    try {
      await migrateToLatest(database.db);
      let queries = 0;
      database.observeQueries(() => queries++);
      const audit = createAuditLog({ database, clock: systemClock, retentionDays: 1 });
      // One event's write costs some queries (the insert and its transaction); fifty cost the same.
      audit.record({ action: 'logout', outcome: 'success', target: 'first' });
      expect(queries).toBe(0);
      await audit.flush();
      const perWrite = queries;
      expect(perWrite).toBeGreaterThan(0);
      for (let i = 0; i < 50; i++) expect(audit.record({ action: 'login', outcome: 'failure', ip: '10.0.0.1', target: `u${i}` })).toBeUndefined();
      expect(queries).toBe(perWrite);
      await audit.flush();
      expect(queries).toBe(2 * perWrite);
      const rows = await database.db.selectFrom('audit_log').select(['target']).orderBy('id').execute();
      expect(rows.map((r) => r.target)).toEqual(['first', ...Array.from({ length: 50 }, (_, i) => `u${i}`)]);
      // A long text is cut, and a write that fails keeps the events for the next one.
      audit.record({ action: 'console.query', outcome: 'success', detail: { sql: 'x'.repeat(10_000) } });
      await audit.flush();
      const long = await database.db.selectFrom('audit_log').select('detail').where('action', '=', 'console.query').executeTakeFirstOrThrow();
      expect(long.detail?.length).toBeLessThan(4100);
      await database.db.schema.alterTable('audit_log').renameTo('audit_log_away').execute();
      audit.record({ action: 'logout', outcome: 'success', target: 'kept' });
      await audit.flush();
      await database.db.schema.alterTable('audit_log_away').renameTo('audit_log').execute();
      await audit.flush();
      expect((await database.db.selectFrom('audit_log').select('target').where('target', '=', 'kept').execute()).length).toBe(1);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(await testDatabases())('audit log (%s)', (db) => {
  let s: TestServer;
  let base: string;
  let admin: string;
  let adminId: number;

  const entries = async (query = '', token = admin): Promise<Entry[]> => {
    const r = await api(base, 'GET', `/api/admin/audit${query}`, { token });
    expect(r.status, r.text).toBe(200);
    return r.body.entries as Entry[];
  };

  beforeAll(async () => {
    s = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: PASSWORD, PLAZA_AUDIT_RETENTION_DAYS: '30' });
    base = `http://127.0.0.1:${s.port}`;
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } });
    admin = login.body.accessToken;
    adminId = login.body.user.id;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('records logins (success and failure), logout, elevation, admin changes, password changes, shares and backups', async () => {
    const carol = await registerAndLogin(base, 'carol');
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'carol', password: 'wrong-password-1' } })).status).toBe(401);
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'nobody<script>', password: 'whatever-123' } })).status).toBe(401);
    expect((await api(base, 'POST', '/api/auth/elevate', { token: carol.accessToken })).status).toBe(201);
    expect((await api(base, 'POST', '/api/auth/elevate', { token: carol.accessToken })).status).toBe(409);
    const up = await fetch(`${base}/api/files/raw`, { method: 'POST', headers: { authorization: `Bearer ${carol.accessToken}`, 'content-type': 'application/octet-stream', 'file-name': 'p.png' }, body: PNG });
    const file = ((await up.json()) as { file: { id: string } }).file;
    const share = await api(base, 'POST', `/api/files/${file.id}/shares`, { token: carol.accessToken, json: {} });
    expect(share.status).toBe(201);
    const changed = await api(base, 'PATCH', '/api/users/me', { token: carol.accessToken, json: { password: 'new-password-77', currentPassword: PASSWORD } });
    expect(changed.status, changed.text).toBe(200);
    expect((await api(base, 'PATCH', '/api/users/me', { token: carol.accessToken, json: { password: 'new-password-88', currentPassword: 'not-it-at-all' } })).status).toBe(401);
    expect((await api(base, 'PATCH', `/api/users/${carol.user.id}`, { token: admin, json: { role: 'admin' } })).status).toBe(200);
    expect((await api(base, 'PATCH', `/api/users/${carol.user.id}`, { token: admin, json: { role: 'user', disabled: true } })).status).toBe(200);
    expect((await api(base, 'PATCH', `/api/users/${adminId}`, { token: admin, json: { role: 'user' } })).status).toBe(409);
    expect((await api(base, 'DELETE', `/api/users/${carol.user.id}`, { token: admin })).status).toBe(200);
    expect((await api(base, 'POST', '/api/admin/backups', { token: admin })).status).toBe(201);
    const dave = await registerAndLogin(base, 'dave');
    expect((await api(base, 'POST', '/api/auth/logout', { token: dave.accessToken })).status).toBeLessThan(300);

    const all = await entries('?limit=500');
    const of = (action: string, outcome = 'success') => all.filter((e) => e.action === action && e.outcome === outcome);
    expect(of('login').map((e) => e.actor.username)).toEqual(expect.arrayContaining(['boss', 'carol', 'dave']));
    const failed = of('login', 'failure');
    expect(failed.map((e) => e.target)).toEqual(expect.arrayContaining(['carol', 'nobody<script>']));
    expect(failed.find((e) => e.target === 'carol')).toMatchObject({ actor: { username: 'carol' }, detail: { code: 'INVALID_CREDENTIALS' }, ip: '127.0.0.1' });
    expect(failed.find((e) => e.target === 'nobody<script>')?.actor).toEqual({ id: null, username: null });
    expect(of('elevate')).toHaveLength(1);
    expect(of('elevate', 'failure')[0]?.detail).toEqual({ code: 'ACCESS_KEY_ACTIVE' });
    expect(of('share.create')[0]).toMatchObject({ actor: { username: 'carol' }, target: `file:${file.id}` });
    expect(of('password.change')).toHaveLength(1);
    expect(of('password.change', 'failure')[0]?.detail).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(of('user.role').map((e) => e.detail?.role).sort()).toEqual(['admin', 'user']);
    expect(of('user.role', 'failure')[0]).toMatchObject({ target: `user:${adminId}`, detail: { role: 'user', code: 'LAST_ADMIN' } });
    expect(of('user.disable')[0]).toMatchObject({ actor: { username: 'boss' }, target: `user:${carol.user.id}` });
    expect(of('user.delete')[0]).toMatchObject({ target: `user:${carol.user.id}` });
    expect(of('backup')[0]).toMatchObject({ actor: { username: 'boss' }, ip: '127.0.0.1' });
    expect(of('backup')[0]?.target).toMatch(/^plaza-backup-.*\.tar$/);
    expect(of('logout').length).toBeGreaterThanOrEqual(1);
    for (const e of all) expect(e.at).toBeGreaterThan(Date.now() - 60_000);
    // No secrets: no password, token, key or hash anywhere in the log.
    const text = JSON.stringify(all);
    for (const secret of [PASSWORD, 'wrong-password-1', 'new-password-77', 'not-it-at-all', carol.accessToken, carol.refreshToken, share.body.token ?? 'x'.repeat(40)]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain('$argon2');
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });

  it('records the command line: admin set-role and reset-password', async () => {
    await registerAndLogin(base, 'erin');
    await s.core.users.setRole('erin', 'admin');
    await s.core.users.resetPassword('erin', 'reset-password-42');
    await expect(s.core.users.setRole('no-such-user', 'admin')).rejects.toThrow();
    const e = await entries('?limit=10');
    expect(e.find((x) => x.action === 'password.reset')).toMatchObject({ ip: 'cli', target: 'username:erin', outcome: 'success' });
    expect(e.find((x) => x.action === 'user.role' && x.target === 'username:erin')).toMatchObject({ ip: 'cli', outcome: 'success', detail: { role: 'admin' } });
    expect(e.find((x) => x.target === 'username:no-such-user')).toMatchObject({ outcome: 'failure', detail: { code: 'NOT_FOUND', role: 'admin' } });
    expect(JSON.stringify(e)).not.toContain('reset-password-42');
  });

  it('filters by action, outcome, actor, text and time, newest first, paged by id', async () => {
    const logins = await entries('?action=login');
    expect(logins.length).toBeGreaterThan(2);
    expect(logins.every((e) => e.action === 'login')).toBe(true);
    expect(logins.map((e) => e.id)).toEqual([...logins.map((e) => e.id)].sort((a, b) => b - a));
    expect((await entries('?action=login&outcome=failure')).every((e) => e.outcome === 'failure')).toBe(true);
    expect((await entries(`?actorId=${adminId}`)).every((e) => e.actor.id === adminId)).toBe(true);
    const byText = await entries(`?q=${encodeURIComponent('<SCRIPT>')}`);
    expect(byText.map((e) => e.target)).toEqual(['nobody<script>']);
    // LIKE wildcards are taken literally.
    expect(await entries('?q=%25')).toEqual([]);
    expect(await entries('?q=_')).toEqual(expect.any(Array));
    const page1 = await api(base, 'GET', '/api/admin/audit?limit=3', { token: admin });
    expect(page1.body.entries).toHaveLength(3);
    const page2 = await entries(`?limit=3&before=${page1.body.next}`);
    expect(page2[0]?.id).toBeLessThan(page1.body.entries[2].id);
    expect(await entries(`?since=${Date.now() + 60_000}`)).toEqual([]);
    expect((await entries(`?until=${Date.now() + 60_000}&limit=500`)).length).toBeGreaterThan(10);
  });

  it('refuses bad filters, non-admins and forged tokens', async () => {
    for (const q of ['?action=drop', '?outcome=maybe', '?limit=0', '?limit=100000', '?actorId=abc', '?since=-1', `?q=${'x'.repeat(300)}`, '?before=0']) {
      const r = await api(base, 'GET', `/api/admin/audit${q}`, { token: admin });
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe('VALIDATION_FAILED');
    }
    const user = await registerAndLogin(base, 'frank');
    expect((await api(base, 'GET', '/api/admin/audit', { token: user.accessToken })).status).toBe(403);
    expect((await api(base, 'GET', '/api/admin/audit')).status).toBe(401);
    expect((await api(base, 'GET', '/api/admin/audit', { token: `${admin}x` })).status).toBe(401);
  });

  it('sweeps entries past PLAZA_AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const old = Date.now() - 31 * 86400_000;
    await s.core.database.db.insertInto('audit_log').values([
      { at: old, action: 'login', outcome: 'success', actor_id: null, actor_name: 'ancient', ip: null, target: null, detail: null },
      { at: Date.now() - 29 * 86400_000, action: 'login', outcome: 'success', actor_id: null, actor_name: 'recent', ip: null, target: null, detail: null },
    ]).execute();
    const before = (await entries('?limit=500')).length;
    expect(await s.core.audit.sweep()).toBe(1);
    const after = await entries('?limit=500');
    expect(after.length).toBe(before - 1);
    expect(after.some((e) => e.actor.username === 'recent')).toBe(true);
    expect(after.some((e) => e.actor.username === 'ancient')).toBe(false);
  });
});
