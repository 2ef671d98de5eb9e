import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m0007 from '../db/migrations/0007_file_totals.js';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { uploadMultipart } from '../../test/helpers/files.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * A file list's total and a user's usage come from `file_totals` (kept with every insert and
 * delete), not from counting rows: these check they always equal what the rows say.
 */
describe.each(await testDatabases())('file totals on %s', (dbKind) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer(dbKind, { PLAZA_USER_QUOTA_BYTES: String(4 * 1024 * 1024) });
    base = server.url;
  });
  afterAll(() => server.close());

  /** What the rows say, counted the slow way. */
  async function counted(ownerId: number) {
    const rows = await server.core.database.db.selectFrom('files').select(['category', 'size']).where('owner_id', '=', ownerId).execute();
    const by = (c: string) => rows.filter((r) => r.category === c).length;
    return { files: rows.length, bytes: rows.reduce((n, r) => n + Number(r.size), 0), images: by('images'), documents: by('documents') };
  }
  async function reported(token: string) {
    const all = await api(base, 'GET', '/api/files?limit=1', { token });
    const images = await api(base, 'GET', '/api/files?limit=1&category=images', { token });
    const documents = await api(base, 'GET', '/api/files?limit=1&category=documents', { token });
    const usage = await api(base, 'GET', '/api/files/usage', { token });
    return { files: all.body.total, bytes: usage.body.usedBytes, images: images.body.total, documents: documents.body.total };
  }

  it('follow uploads (one at a time and in parallel) and deletes, per category', async () => {
    const u = await registerAndLogin(base, 'totals1');
    const me = await api(base, 'GET', '/api/users/me', { token: u.accessToken });
    const id = me.body.user?.id ?? me.body.id;
    expect(await reported(u.accessToken)).toEqual({ files: 0, bytes: 0, images: 0, documents: 0 });

    const first = await uploadMultipart(base, u.accessToken, [
      { name: 'a.txt', data: Buffer.from('hello') },
      { name: 'b.pdf', data: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(300)]) },
      { name: 'c.bin', data: randomBytes(1000) },
    ]);
    expect(first.status).toBe(201);
    const parallel = await Promise.all(
      Array.from({ length: 12 }, (_, i) => uploadMultipart(base, u.accessToken, [{ name: `p${i}.bin`, data: randomBytes(100 + i) }])),
    );
    expect(parallel.map((r) => r.status)).toEqual(Array(12).fill(201));
    expect(await reported(u.accessToken)).toEqual(await counted(id));
    expect((await reported(u.accessToken)).files).toBe(15);

    for (const f of [...first.body.files, parallel[0]?.body.files[0]]) {
      expect((await api(base, 'DELETE', `/api/files/${f.id}`, { token: u.accessToken })).status).toBe(200);
    }
    // A second delete of the same file is a 404 and takes nothing off again.
    expect((await api(base, 'DELETE', `/api/files/${first.body.files[0].id}`, { token: u.accessToken })).status).toBe(404);
    expect(await reported(u.accessToken)).toEqual(await counted(id));
    expect((await reported(u.accessToken)).files).toBe(11);
  });

  it('an upload refused for quota counts nothing; the quota is checked against the totals', async () => {
    const u = await registerAndLogin(base, 'totals2');
    const me = await api(base, 'GET', '/api/users/me', { token: u.accessToken });
    const id = me.body.user?.id ?? me.body.id;
    expect((await uploadMultipart(base, u.accessToken, [{ name: 'big.bin', data: randomBytes(3 * 1024 * 1024) }])).status).toBe(201);
    const over = await uploadMultipart(base, u.accessToken, [{ name: 'over.bin', data: randomBytes(1024 * 1024 + 1) }]);
    expect([over.status, over.body.error?.code]).toEqual([507, 'QUOTA_EXCEEDED']);
    expect(await reported(u.accessToken)).toEqual(await counted(id));
    expect((await reported(u.accessToken)).files).toBe(1);
  });

  it("a deleted user's totals go with the user", async () => {
    const u = await registerAndLogin(base, 'totals3');
    const me = await api(base, 'GET', '/api/users/me', { token: u.accessToken });
    const id = me.body.user?.id ?? me.body.id;
    expect((await uploadMultipart(base, u.accessToken, [{ name: 'x.txt', data: Buffer.from('x') }])).status).toBe(201);
    const db = server.core.database.db;
    await db.deleteFrom('users').where('id', '=', id).execute();
    expect(await db.selectFrom('file_totals').selectAll().where('owner_id', '=', id).execute()).toEqual([]);
  });

  it('migration 0007 fills the totals from the files already there', async () => {
    const db = server.core.database.db;
    const before = await db.selectFrom('file_totals').select(['owner_id', 'category', 'file_count', 'byte_count']).orderBy('owner_id').orderBy('category').execute();
    expect(before.length).toBeGreaterThan(2);
    await m0007.down(db as never);
    await m0007.up(db as never);
    const after = await db.selectFrom('file_totals').select(['owner_id', 'category', 'file_count', 'byte_count']).orderBy('owner_id').orderBy('category').execute();
    const norm = (rows: typeof before) => rows.map((r) => ({ ...r, file_count: Number(r.file_count), byte_count: Number(r.byte_count) }));
    // Deletes leave rows at zero; the backfill writes only categories that hold files.
    expect(norm(after)).toEqual(norm(before).filter((r) => r.file_count > 0));
  });
});
