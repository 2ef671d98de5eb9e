import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../../test/helpers/api.js';
import { testDatabases } from '../../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../../test/helpers/server.js';

const TIMEOUT_MS = 1500;
const MAX_ROWS = 50;

describe.each(await testDatabases())('database console (%s)', (db) => {
  let s: TestServer;
  let base: string;
  let admin: string;
  let user: string;
  let key: string;
  let otherAdmin: string;
  let otherKey: string;

  const query = (json: unknown, token = admin, headers: Record<string, string> = {}) => api(base, 'POST', '/api/admin/console/query', { json, token, headers });
  const refused = async (sql: string, extra: Record<string, unknown> = {}) => {
    const r = await query({ sql, ...extra });
    expect(r.status, `${sql}: ${r.text}`).toBe(400);
    expect(r.body.error.code, sql).toBe('QUERY_REFUSED');
    return r.body.error.message as string;
  };

  beforeAll(async () => {
    s = await startTestServer(db, {
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: PASSWORD,
      PLAZA_CONSOLE_TIMEOUT_MS: String(TIMEOUT_MS),
      PLAZA_CONSOLE_MAX_ROWS: String(MAX_ROWS),
      PLAZA_CONSOLE_MAX_SQL_CHARS: '2000',
    });
    base = `http://127.0.0.1:${s.port}`;
    admin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } })).body.accessToken;
    key = (await api(base, 'POST', '/api/auth/elevate', { token: admin })).body.key;
    user = (await registerAndLogin(base, 'mallory')).accessToken;
    await registerAndLogin(base, 'second');
    const second = await api(base, 'GET', '/api/users?limit=100', { token: admin });
    const secondId = second.body.users.find((u: { username: string }) => u.username === 'second').id;
    await api(base, 'PATCH', `/api/users/${secondId}`, { token: admin, json: { role: 'admin' } });
    otherAdmin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'second', password: PASSWORD } })).body.accessToken;
    otherKey = (await api(base, 'POST', '/api/auth/elevate', { token: otherAdmin })).body.key;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is for admins only', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/console/tables'],
      ['GET', '/api/admin/console/tables/users'],
      ['POST', '/api/admin/console/query'],
      ['POST', '/api/admin/console/export'],
      ['GET', '/api/admin/console/history'],
      ['GET', '/api/admin/console/saved'],
    ] as const) {
      const json = method === 'POST' ? { sql: 'select 1', ...(path.endsWith('export') ? { format: 'csv' } : {}) } : undefined;
      expect((await api(base, method, path, { json })).status, path).toBe(401);
      expect((await api(base, method, path, { json, token: user })).status, path).toBe(403);
      expect((await api(base, method, path, { json, token: 'forged.token.value' })).status, path).toBe(401);
    }
  });

  it('lists tables with row counts, and a table: columns, indexes, count, sample rows with hashes masked', async () => {
    const t = await api(base, 'GET', '/api/admin/console/tables', { token: admin });
    expect(t.status).toBe(200);
    const names = t.body.tables.map((x: { name: string }) => x.name);
    expect(names).toEqual(expect.arrayContaining(['users', 'sessions', 'audit_log', 'console_queries', 'chat_messages']));
    expect(t.body.tables.find((x: { name: string }) => x.name === 'users').rowCount).toBe(3);
    const u = await api(base, 'GET', '/api/admin/console/tables/users', { token: admin });
    expect(u.status).toBe(200);
    expect(u.body.rowCount).toBe(3);
    expect(u.body.columns.find((c: { name: string }) => c.name === 'id').primaryKey).toBe(true);
    expect(u.body.indexes.length).toBeGreaterThan(0);
    const col = u.body.sample.columns.indexOf('password_hash');
    expect(col).toBeGreaterThan(-1);
    expect(u.body.sample.rows.map((r: unknown[]) => r[col])).toEqual(['[masked]', '[masked]', '[masked]']);
    expect(u.text).not.toContain('$argon2');
    const sessions = await api(base, 'GET', '/api/admin/console/tables/sessions', { token: admin });
    expect(sessions.text).not.toMatch(/[0-9a-f]{64}/);
    expect((await api(base, 'GET', '/api/admin/console/tables/nope', { token: admin })).status).toBe(404);
    expect((await api(base, 'GET', '/api/admin/console/tables/..%2fusers', { token: admin })).status).toBe(400);
    expect((await api(base, 'GET', `/api/admin/console/tables/${'x'.repeat(100)}`, { token: admin })).status).toBe(400);
  });

  it('runs a read query: columns, rows, duration; HTML in results comes back as data', async () => {
    const r = await query({ sql: "select id, username, '<img src=x onerror=alert(1)>' as html from users order by id" });
    expect(r.status, r.text).toBe(200);
    expect(r.body.columns).toEqual(['id', 'username', 'html']);
    expect(r.body.rows[0]).toEqual([1, 'boss', '<img src=x onerror=alert(1)>']);
    expect(r.body).toMatchObject({ truncated: false, changes: null, mode: 'read' });
    expect(typeof r.body.durationMs).toBe('number');
  });

  it('refuses what read-only does not stop, on both databases', async () => {
    expect(await refused("ATTACH DATABASE '/tmp/x.db' AS x")).toMatch(/ATTACH/);
    expect(await refused('PRAGMA writable_schema = ON')).toMatch(/PRAGMA/);
    await refused("select load_extension('/tmp/evil.so')");
    await refused("COPY users TO PROGRAM 'touch /tmp/plaza-pwned'");
    await refused("select pg_read_file('/etc/passwd')");
    await refused("select * from query_to_xml('select pg_read_file(''/etc/passwd'')', true, true, '')");
    await refused('select 1; select 2');
    await refused('select 1; drop table users');
    await refused("select 'a;b' as x; delete from users");
    await refused('select 1 /* unterminated');
    await refused('vacuum');
    await refused("vacuum into '/tmp/copy.db'");
    await refused('begin');
    await refused('set role postgres');
    await refused("select set_config('default_transaction_read_only', 'off', false)");
    await refused('select * from pg_authid');
    await refused('  -- nothing but a comment\n');
    await refused(`select '${'x'.repeat(2100)}'`);
    expect(await refused("delete from users where username = 'mallory'")).toMatch(/read-only/);
    expect(await refused('drop table users')).toMatch(/read-only/);
    expect(await refused('create function f() returns int as $$ select 1 $$ language sql', { write: true, key })).toMatch(/CREATE FUNCTION/);
    // A ';' inside a string, a comment or an identifier is not a second statement.
    const ok = await query({ sql: "select 'a;b' as \"x;y\" -- ; drop table users\n" });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.rows).toEqual([['a;b']]);
    // Nothing was written by any of it.
    expect((await query({ sql: 'select count(*) as n from users' })).body.rows[0][0]).toBe(3);
  });

  it('never writes in read-only mode, even past the checks (the database refuses)', async () => {
    const sql = db === 'postgres'
      ? "with gone as (delete from users where username = 'mallory' returning id) select * from gone"
      : "with gone as (select 1) delete from users where username = 'mallory'";
    const r = await query({ sql });
    expect([400, 422]).toContain(r.status);
    const n = await query({ sql: "select count(*) from users where username = 'mallory'" });
    expect(n.body.rows[0][0]).toBe(1);
    if (db === 'postgres') {
      const into = await query({ sql: 'select * into stolen from users' });
      expect(into.status).toBe(422);
      expect((await query({ sql: "select count(*) from information_schema.tables where table_name = 'stolen'" })).body.rows[0][0]).toBe(0);
    }
  });

  it('cuts a cross join of billions of rows at the row cap, at once', async () => {
    const sql = db === 'postgres'
      ? 'select a, b from generate_series(1, 100000) a, generate_series(1, 100000) b'
      : 'with recursive c(x) as (select 1 union all select x + 1 from c limit 100000) select a.x, b.x from c a, c b';
    const started = Date.now();
    const r = await query({ sql });
    expect(r.status, r.text).toBe(200);
    expect(r.body.rows.length).toBe(MAX_ROWS);
    expect(r.body.truncated).toBe(true);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('stops a query that sleeps at the timeout; the server keeps serving, the next query works', async () => {
    const sql = db === 'postgres' ? 'select pg_sleep(30)' : 'with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c';
    const started = Date.now();
    const slow = query({ sql });
    // Meanwhile the server answers.
    await new Promise((r) => setTimeout(r, 200));
    const health = await api(base, 'GET', '/api/health');
    expect(health.status).toBe(200);
    const r = await slow;
    expect(r.status, r.text).toBe(422);
    expect(r.body.error.code).toBe('QUERY_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3000);
    const next = await query({ sql: 'select 42 as answer' });
    expect(next.body.rows).toEqual([[42]]);
    // A count over a join that would take hours is cut too.
    const big = db === 'postgres'
      ? 'select count(*) from generate_series(1, 100000) a, generate_series(1, 100000) b'
      : 'with recursive c(x) as (select 1 union all select x + 1 from c limit 100000) select count(*) from c a, c b';
    expect((await query({ sql: big })).body.error.code).toBe('QUERY_TIMEOUT');
  });

  it('writes only with the switch and a valid key of the admin, in a transaction', async () => {
    const insert = "insert into chat_rooms (name, kind, visibility, created_at, last_seq) values ('console-room', 'room', 'public', 1, 0)";
    let r = await query({ sql: insert, write: true });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('INVALID_ACCESS_KEY');
    r = await query({ sql: insert, write: true, key: 'f'.repeat(64) });
    expect(r.status).toBe(401);
    r = await query({ sql: insert, write: true, key: otherKey });
    expect(r.status).toBe(401);
    r = await query({ sql: insert, write: true }, admin, { 'x-plaza-key': key });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ mode: 'write', changes: 1 });
    // A failing write changes nothing.
    r = await query({ sql: "update users set email = 'x@example.com' where id = id + 0 and (select count(*) from users) / 0 = 1", write: true, key });
    const emails = await query({ sql: "select count(*) from users where email = 'x@example.com'" });
    expect(emails.body.rows[0][0]).toBe(0);
    const dup = await query({ sql: "insert into chat_members (room_id, user_id, role, joined_at) values (999999, 1, 'member', 1)", write: true, key });
    expect(dup.status).toBe(422);
    expect((await query({ sql: "select count(*) from chat_rooms where name = 'console-room'" })).body.rows[0][0]).toBe(1);
    // Still no ATTACH or PRAGMA with the switch on.
    await refused("ATTACH DATABASE '/tmp/x.db' AS x", { write: true, key });
    await refused('PRAGMA writable_schema = ON', { write: true, key });
  });

  it('masks password and token hashes unless unmasked with a valid key', async () => {
    const all = await query({ sql: 'select * from users' });
    expect(all.status).toBe(200);
    expect(all.text).not.toContain('$argon2');
    expect(all.text).toContain('[masked]');
    expect(await refused('select password_hash as x from users')).toMatch(/masked/);
    expect(await refused('select substr(token_hash, 1, 10) from sessions')).toMatch(/masked/);
    const sessions = await query({ sql: 'select * from sessions' });
    expect(sessions.text).not.toMatch(/[0-9a-f]{64}/);
    if (db === 'postgres') {
      const rows = await query({ sql: 'select u::text as t from users u' });
      expect(rows.text).not.toContain('$argon2');
      const srows = await query({ sql: 'select s::text as t from sessions s' });
      expect(srows.text).not.toMatch(/[0-9a-f]{64}/);
    }
    expect((await query({ sql: 'select password_hash from users', unmask: true })).status).toBe(401);
    expect((await query({ sql: 'select password_hash from users', unmask: true, key: otherKey })).status).toBe(401);
    const shown = await query({ sql: 'select password_hash from users', unmask: true, key });
    expect(shown.status).toBe(200);
    expect(shown.body.rows[0][0]).toMatch(/^\$argon2id\$/);
  });

  it('refuses malformed bodies: bad JSON, wrong types, unknown fields, huge SQL', async () => {
    const raw = await fetch(`${base}/api/admin/console/query`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"sql":' });
    expect(raw.status).toBe(400);
    expect((await query({ sql: 42 })).status).toBe(400);
    expect((await query({ sql: 'select 1', write: 'yes' })).status).toBe(400);
    expect((await query({ sql: 'select 1', extra: 1 })).status).toBe(400);
    expect((await query({ sql: 'select 1\u0000' })).status).toBe(400);
    expect((await query({ sql: `select '${'y'.repeat(2 * 1024 * 1024)}'` })).status).toBe(413);
  });

  it('exports CSV (formula-safe) and JSON, streamed', async () => {
    const sql = "select '=HYPERLINK(\"http://evil\")' as a, '+1' as b, '-2' as c, '@SUM(A1)' as d, 'plain, \"quoted\"' as e, 3 as n";
    const csv = await fetch(`${base}/api/admin/console/export`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql, format: 'csv' }) });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="plaza-query-\d{8}T\d{6}Z\.csv"$/);
    expect(await csv.text()).toBe('a,b,c,d,e,n\n"\'=HYPERLINK(""http://evil"")",\'+1,\'-2,\'@SUM(A1),"plain, ""quoted""",3\n');
    const json = await api(base, 'POST', '/api/admin/console/export', { token: admin, json: { sql: 'select id, username from users order by id', format: 'json' } });
    expect(json.status).toBe(200);
    expect(json.body.slice(0, 2)).toEqual([{ id: 1, username: 'boss' }, { id: 2, username: 'mallory' }]);
    // An export is read-only and masked like a query; errors before the first row are JSON.
    const masked = await api(base, 'POST', '/api/admin/console/export', { token: admin, json: { sql: 'select * from users', format: 'json' } });
    expect(masked.text).not.toContain('$argon2');
    const bad = await api(base, 'POST', '/api/admin/console/export', { token: admin, json: { sql: 'delete from users', format: 'csv' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('QUERY_REFUSED');
    expect((await api(base, 'POST', '/api/admin/console/export', { token: admin, json: { sql: 'select 1', format: 'xlsx' } })).status).toBe(400);
  });

  it('keeps saved queries per admin (name, SQL, chart) and a query history', async () => {
    const chart = { type: 'bar', x: 'role', y: ['n'] };
    const made = await api(base, 'POST', '/api/admin/console/saved', { token: admin, json: { name: 'Users by role', sql: 'select role, count(*) as n from users group by role', chart } });
    expect(made.status, made.text).toBe(201);
    expect(made.body.query).toMatchObject({ name: 'Users by role', chart });
    expect((await api(base, 'POST', '/api/admin/console/saved', { token: admin, json: { name: 'Users by role', sql: 'select 1' } })).status).toBe(409);
    expect((await api(base, 'POST', '/api/admin/console/saved', { token: admin, json: { name: 'x', sql: 'select 1', chart: { type: 'radar', x: 'a', y: [] } } })).status).toBe(400);
    const id = made.body.query.id;
    const list = await api(base, 'GET', '/api/admin/console/saved', { token: admin });
    expect(list.body.queries.map((q: { id: string }) => q.id)).toEqual([id]);
    // Another admin neither sees nor changes it.
    expect((await api(base, 'GET', '/api/admin/console/saved', { token: otherAdmin })).body.queries).toEqual([]);
    expect((await api(base, 'PATCH', `/api/admin/console/saved/${id}`, { token: otherAdmin, json: { name: 'mine' } })).status).toBe(404);
    expect((await api(base, 'DELETE', `/api/admin/console/saved/${id}`, { token: otherAdmin })).status).toBe(404);
    expect((await api(base, 'DELETE', '/api/admin/console/saved/..%2f..', { token: admin })).status).toBe(400);
    const renamed = await api(base, 'PATCH', `/api/admin/console/saved/${id}`, { token: admin, json: { name: 'Roles', chart: null } });
    expect(renamed.body.query).toMatchObject({ name: 'Roles', chart: null });
    const history = await api(base, 'GET', '/api/admin/console/history', { token: admin });
    expect(history.status).toBe(200);
    const entry = history.body.history.find((h: { sql?: string }) => h.sql === 'select 42 as answer');
    expect(entry).toMatchObject({ outcome: 'success', mode: 'read', rows: 1 });
    expect(typeof entry.durationMs).toBe('number');
    expect(history.body.history.some((h: { outcome: string; code?: string }) => h.outcome === 'failure' && h.code === 'QUERY_TIMEOUT')).toBe(true);
    expect((await api(base, 'GET', '/api/admin/console/history', { token: otherAdmin })).body.history).toEqual([]);
    expect((await api(base, 'DELETE', `/api/admin/console/saved/${id}`, { token: admin })).status).toBe(200);
  });

  it('a flood of slow queries: the ones past the limit are refused at once, none hangs the server', async () => {
    const sql = db === 'postgres' ? 'select pg_sleep(30)' : 'with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c';
    const started = Date.now();
    const flood = Array.from({ length: 8 }, () => query({ sql }));
    await new Promise((r) => setTimeout(r, 300));
    expect((await api(base, 'GET', '/api/health')).status).toBe(200);
    expect((await registerAndLogin(base, `flood${db}`)).accessToken).toBeTruthy();
    const answers = await Promise.all(flood);
    const codes = answers.map((r) => r.body.error?.code);
    expect(codes.filter((c) => c === 'SERVER_BUSY').length).toBe(4);
    expect(codes.filter((c) => c === 'QUERY_TIMEOUT').length).toBe(4);
    expect(answers.find((r) => r.body.error?.code === 'SERVER_BUSY')?.status).toBe(503);
    // SQLite's take turns on one process: four timeouts one after another, at most.
    expect(Date.now() - started).toBeLessThan(4 * TIMEOUT_MS + 5000);
    expect((await query({ sql: 'select 1 as ok' })).body.rows).toEqual([[1]]);
  });

  it('a write cut off by the timeout is rolled back and leaves the database writable', async () => {
    const endless = db === 'postgres'
      ? "insert into chat_rooms (name, kind, visibility, created_at, last_seq) select 'endless-' || x, 'room', 'public', 1, 0 from generate_series(1, 100000000) x"
      : "insert into chat_rooms (name, kind, visibility, created_at, last_seq) select 'endless-' || x, 'room', 'public', 1, 0 from (with recursive c(x) as (select 1 union all select x + 1 from c) select x from c)";
    const r = await query({ sql: endless, write: true, key });
    expect(r.status, r.text).toBe(422);
    expect(r.body.error.code).toBe('QUERY_TIMEOUT');
    expect((await query({ sql: "select count(*) from chat_rooms where name like 'endless-%'" })).body.rows[0][0]).toBe(0);
    // The server's own writes go on at once.
    expect((await registerAndLogin(base, `after${db}`)).accessToken).toBeTruthy();
    const ok = await query({ sql: "update chat_rooms set last_seq = 0 where name = 'console-room'", write: true, key });
    expect(ok.body.changes).toBe(1);
  });
});
