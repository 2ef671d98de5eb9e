import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { uploadMultipart } from '../../test/helpers/files.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Keyset paging of the file list (`nextCursor`): every page costs a page, however deep, and walking
 * the cursors yields exactly the offset-paged list — ties in name and size included, no row twice,
 * none skipped — in every order.
 */
describe.each(await testDatabases())('file list paging on %s', (dbKind) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(dbKind);
    token = (await registerAndLogin(server.url, 'pager')).accessToken;
    // Names and sizes repeat (ties broken by id); two categories.
    const parts = Array.from({ length: 23 }, (_, i) => ({
      name: `f${i % 5}.${i % 3 === 0 ? 'txt' : 'bin'}`,
      data: Buffer.alloc(10 + (i % 4), i),
    }));
    for (const chunk of [parts.slice(0, 12), parts.slice(12)]) {
      const up = await uploadMultipart(server.url, token, chunk);
      expect([up.status, up.body.error]).toEqual([201, undefined]);
    }
  });
  afterAll(() => server.close());

  const list = (query: string) => api(server.url, 'GET', `/api/files?${query}`, { token });

  it.each([
    ['created_at', 'desc'],
    ['created_at', 'asc'],
    ['original_name', 'asc'],
    ['original_name', 'desc'],
    ['size', 'asc'],
    ['size', 'desc'],
  ])('walking nextCursor by %s %s gives the whole list once, in order', async (sort, order) => {
    const whole = await list(`sort=${sort}&order=${order}&limit=500`);
    expect(whole.body.total).toBe(23);
    expect(whole.body.nextCursor).toBeNull();
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: any } = await list(`sort=${sort}&order=${order}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(23);
      ids.push(...page.body.files.map((f: { id: string }) => f.id));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBe(6);
    expect(ids).toEqual(whole.body.files.map((f: { id: string }) => f.id));
  });

  it('a category filter pages by cursor too', async () => {
    const first = await list('category=files&limit=3');
    expect(first.body.files).toHaveLength(3);
    const second = await list(`category=files&limit=3&cursor=${first.body.nextCursor}`);
    const all = await list('category=files&limit=500');
    expect([...first.body.files, ...second.body.files].map((f: { id: string }) => f.id)).toEqual(
      all.body.files.slice(0, 6).map((f: { id: string }) => f.id),
    );
  });

  it.each([
    ['garbage', 'cursor=%%%', 400],
    ['not JSON', `cursor=${Buffer.from('nope').toString('base64url')}`, 400],
    ['wrong shape', `cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 400],
    ['a number where a name belongs', `sort=original_name&order=asc&cursor=${Buffer.from('["original_name","asc",5,"x"]').toString('base64url')}`, 400],
    ['another order', `sort=size&cursor=${Buffer.from('["created_at","desc",1,"x"]').toString('base64url')}`, 400],
    ['an over-long id', `cursor=${Buffer.from(JSON.stringify(['created_at', 'desc', 1, 'x'.repeat(65)])).toString('base64url')}`, 400],
    ['SQL in the value', `sort=original_name&order=asc&cursor=${Buffer.from(JSON.stringify(['original_name', 'asc', "' or 1=1 --", 'x'])).toString('base64url')}`, 200],
    ['too long', `cursor=${'a'.repeat(600)}`, 400],
    ['with an offset', `offset=4&cursor=${Buffer.from('["created_at","desc",1,"x"]').toString('base64url')}`, 400],
  ])('a bad cursor (%s) is a clear error, never a 500', async (_what, query, status) => {
    const r = await list(query);
    expect(r.status).toBe(status);
    if (status === 400) {
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.message.length).toBeGreaterThan(10);
    } else {
      expect(Array.isArray(r.body.files)).toBe(true);
    }
  });

  it("an admin's all-files orders read an index, not every row", async () => {
    const db = server.core.database.db;
    if (dbKind === 'sqlite') {
      // A deep page by cursor is a range search in an index leading with the owner, never a scan.
      for (const sort of ['created_at', 'original_name', 'size']) {
        const plan = await sql<{ detail: string }>`explain query plan select * from files where owner_id = 1
          and (${sql.ref(sort)}, id) < (1, 'x') order by ${sql.ref(sort)} desc, id desc limit 100`.execute(db);
        const text = plan.rows.map((r) => r.detail).join(' | ');
        expect(text).toMatch(/SEARCH files USING INDEX files_owner_\w+ \(owner_id=\? AND \w+<\?\)/);
        expect(text).not.toMatch(/SCAN/);
      }
    }
    const orders = ['original_name', 'size'];
    for (const sort of orders) {
      if (dbKind === 'sqlite') {
        const plan = await sql<{ detail: string }>`explain query plan select * from files order by ${sql.ref(sort)} desc, id desc limit 100`.execute(db);
        const text = plan.rows.map((r) => r.detail).join(' | ');
        expect(text).toMatch(/USING INDEX files_(name|size)_id/);
        expect(text).not.toMatch(/TEMP B-TREE/);
      } else {
        await sql`set enable_seqscan = off`.execute(db);
        const plan = await sql<{ 'QUERY PLAN': string }>`explain select * from files order by ${sql.ref(sort)} desc, id desc limit 100`.execute(db);
        await sql`reset enable_seqscan`.execute(db);
        expect(plan.rows.map((r) => r['QUERY PLAN']).join(' | ')).toMatch(/Index Scan Backward using files_(name|size)_id/);
      }
    }
  });
});
