import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases, withWriters } from '../../test/helpers/databases.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function download(base: string, token: string, id: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/api/files/${id}/content`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

// The SQLite run writes uploads with O_DIRECT (where the temp filesystem takes it), the PostgreSQL
// run buffered: both disk writers meet every case.
describe.each(withWriters(await testDatabases()))('files API on %s (O_DIRECT asked: %s)', (db, direct) => {
  let server: TestServer;
  let base: string;
  let alice: Awaited<ReturnType<typeof registerAndLogin>>;
  let bob: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_MAX_UPLOAD_BYTES: String(256 * 1024),
      PLAZA_USER_QUOTA_BYTES: String(1024 * 1024),
      PLAZA_UPLOAD_DIRECT_IO: String(direct),
    });
    base = server.url;
    alice = await registerAndLogin(base, 'alice');
    bob = await registerAndLogin(base, 'bob');
  });
  afterAll(() => server.close());

  const tmpEmpty = () => readdirSync(path.join(server.dataDir, 'uploads', '.tmp')).length === 0;

  it('uploads several files in one multipart request, classified by extension and content', async () => {
    const r = await uploadMultipart(base, alice.accessToken, [
      { name: 'photo.png', data: PNG },
      { name: 'notes.txt', data: Buffer.from('hello world\n') },
      { name: 'fake.png', data: Buffer.from('<html><script>alert(1)</script></html>') },
      { name: 'pic.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') },
    ]);
    expect(r.status).toBe(201);
    const [png, txt, fake, svg] = r.body.files;
    expect(png).toMatchObject({ name: 'photo.png', category: 'images', mime: 'image/png', size: PNG.length, sha256: sha(PNG) });
    expect(png.path).toBe(`/uploads/images/${png.filename}`);
    expect(png.filename).not.toContain('photo');
    expect(txt).toMatchObject({ category: 'documents', mime: 'text/plain' });
    expect(fake).toMatchObject({ category: 'files', name: 'fake.png' });
    expect(svg).toMatchObject({ category: 'images', mime: 'image/svg+xml' });
    expect(existsSync(path.join(server.dataDir, 'uploads', 'images', png.filename))).toBe(true);
  });

  it('downloads with ETag/304, Range/206, 416, and safe headers', async () => {
    const up = await uploadMultipart(base, alice.accessToken, [
      { name: 'data.bin', data: Buffer.from('0123456789') },
      { name: 'pic.png', data: PNG },
      { name: 'page.html', data: Buffer.from('<!doctype html><h1>hi</h1>') },
      { name: '보고서 final.pdf', data: Buffer.from('%PDF-1.4\n%…\n') },
    ]);
    const [bin, png, html, pdf] = up.body.files;
    const full = await download(base, alice.accessToken, bin.id);
    expect(full.status).toBe(200);
    expect(full.body.toString()).toBe('0123456789');
    expect(full.headers.get('etag')).toBe(`"${bin.sha256}"`);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect((await download(base, alice.accessToken, bin.id, { 'if-none-match': `"${bin.sha256}"` })).status).toBe(304);
    const part = await download(base, alice.accessToken, bin.id, { range: 'bytes=2-5' });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe('2345');
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
    expect((await download(base, alice.accessToken, bin.id, { range: 'bytes=-3' })).body.toString()).toBe('789');
    expect((await download(base, alice.accessToken, bin.id, { range: 'bytes=7-' })).body.toString()).toBe('789');
    const bad = await download(base, alice.accessToken, bin.id, { range: 'bytes=50-60' });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */10');

    const img = await download(base, alice.accessToken, png.id);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(img.headers.get('content-disposition')).toMatch(/^inline/);
    const page = await download(base, alice.accessToken, html.id);
    expect(page.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(page.headers.get('content-type')).toBe('application/octet-stream');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('content-security-policy')).toContain('sandbox');
    const doc = await download(base, alice.accessToken, pdf.id);
    expect(doc.headers.get('content-disposition')).toContain("filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%20final.pdf");
    expect(doc.headers.get('content-type')).toBe('application/pdf');
  });

  it('raw uploads with File-Name / File-Size; lies and bad sizes are 400; empty files are fine', async () => {
    const send = (headers: Record<string, string>, body: Buffer | string) =>
      api(base, 'POST', '/api/files/raw', {
        token: alice.accessToken,
        headers: { 'content-type': 'application/octet-stream', ...headers },
        body: body as string,
      });
    const ok = await send({ 'file-name': 'raw.txt', 'file-size': '5' }, 'abcde');
    expect(ok.status).toBe(201);
    expect(ok.body.file).toMatchObject({ name: 'raw.txt', size: 5 });
    const empty = await send({ 'file-name': 'empty.txt' }, '');
    expect(empty.status).toBe(201);
    expect(empty.body.file.sha256).toBe(sha(Buffer.alloc(0)));
    for (const size of ['-1', 'abc', '1.5', '', '0']) {
      const r = await send({ 'file-name': 'x.txt', 'file-size': size }, 'abc');
      expect(r.status, size).toBe(400);
    }
    const lie = await send({ 'file-name': 'lie.txt', 'file-size': '10' }, 'abc');
    expect(lie.status).toBe(400);
    expect(lie.body.error.code).toBe('UPLOAD_INCOMPLETE');
    expect((await send({}, 'abc')).status).toBe(400);
    const list = await api(base, 'GET', '/api/files?limit=500', { token: alice.accessToken });
    expect(list.body.files.some((f: { name: string }) => f.name === 'lie.txt')).toBe(false);
    expect(tmpEmpty()).toBe(true);
  });

  it('names are never paths: traversal, absolute, NUL and encoded tricks stay metadata', async () => {
    const names = [
      '../../evil.txt',
      '..\\..\\evil2.txt',
      '/etc/passwd',
      '%2e%2e%2fenc.txt',
      '%252e%252e%252fdouble.txt',
      '%c0%ae%c0%ae/overlong.txt',
      '\u2024\u2024\uff0flookalike.txt',
      'nul\u0000byte.txt',
      '....//x.txt',
    ];
    for (const name of names) {
      const r = await api(base, 'POST', '/api/files/raw', {
        token: alice.accessToken,
        headers: { 'content-type': 'application/octet-stream', 'file-name': encodeURIComponent(name) },
        body: 'x',
      });
      expect(r.status, name).toBe(201);
      expect(r.body.file.name).not.toMatch(/[/\\\u0000]/);
      expect(r.body.file.filename).toMatch(/^[A-Za-z0-9_-]+(\.[a-z0-9]+)?$/);
    }
    expect(existsSync(path.join(server.dataDir, 'evil.txt'))).toBe(false);
    expect(existsSync(path.join(server.dataDir, 'uploads', 'evil.txt'))).toBe(false);
    for (const bad of ['..', '.', '/', '\u0000']) {
      const r = await api(base, 'POST', '/api/files/raw', {
        token: alice.accessToken,
        headers: { 'content-type': 'application/octet-stream', 'file-name': encodeURIComponent(bad) },
        body: 'x',
      });
      expect(r.status, bad).toBe(400);
    }
  });

  it("another user's files are 404 for read, download, rename and delete; admins and owners manage", async () => {
    const up = await uploadMultipart(base, alice.accessToken, [{ name: 'secret.txt', data: Buffer.from('mine') }]);
    const id = up.body.files[0].id;
    expect((await api(base, 'GET', `/api/files/${id}`, { token: bob.accessToken })).status).toBe(404);
    expect((await download(base, bob.accessToken, id)).status).toBe(404);
    expect((await api(base, 'PATCH', `/api/files/${id}`, { token: bob.accessToken, json: { name: 'x.txt' } })).status).toBe(404);
    expect((await api(base, 'DELETE', `/api/files/${id}`, { token: bob.accessToken })).status).toBe(404);
    const bobList = await api(base, 'GET', '/api/files', { token: bob.accessToken });
    expect(bobList.body.files.some((f: { id: string }) => f.id === id)).toBe(false);
    expect((await api(base, 'GET', `/api/files/${id}`)).status).toBe(401);

    const renamed = await api(base, 'PATCH', `/api/files/${id}`, { token: alice.accessToken, json: { name: '../renamed.txt' } });
    expect(renamed.body.file.name).toBe('renamed.txt');
    const del = await api(base, 'DELETE', `/api/files/${id}`, { token: alice.accessToken });
    expect(del.status).toBe(200);
    expect(existsSync(path.join(server.dataDir, 'uploads', 'documents', up.body.files[0].filename))).toBe(false);
    expect((await api(base, 'DELETE', `/api/files/${id}`, { token: alice.accessToken })).status).toBe(404);
  });

  it('lists paged, by category, sorted', async () => {
    const u = await registerAndLogin(base, 'lister');
    await uploadMultipart(base, u.accessToken, [
      { name: 'b.txt', data: Buffer.from('bb') },
      { name: 'a.txt', data: Buffer.from('a') },
      { name: 'c.png', data: PNG },
    ]);
    const byName = await api(base, 'GET', '/api/files?sort=original_name&order=asc', { token: u.accessToken });
    expect(byName.body.files.map((f: { name: string }) => f.name)).toEqual(['a.txt', 'b.txt', 'c.png']);
    const images = await api(base, 'GET', '/api/files?category=images', { token: u.accessToken });
    expect(images.body.total).toBe(1);
    const page = await api(base, 'GET', '/api/files?limit=1&offset=1&sort=size&order=desc', { token: u.accessToken });
    expect(page.body.files).toHaveLength(1);
    expect(page.body.total).toBe(3);
    expect((await api(base, 'GET', '/api/files?category=secret', { token: u.accessToken })).status).toBe(400);
  });

  it('the size limit is enforced as bytes arrive (413), leaving nothing behind', async () => {
    const big = Buffer.alloc(300 * 1024, 1);
    const r = await uploadMultipart(base, alice.accessToken, [{ name: 'big.bin', data: big }]);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('FILE_TOO_LARGE');
    const raw = await api(base, 'POST', '/api/files/raw', {
      token: alice.accessToken,
      headers: { 'content-type': 'application/octet-stream', 'file-name': 'big.bin', 'file-size': String(big.length) },
      body: 'x',
    });
    expect(raw.status).toBe(413);
    expect(tmpEmpty()).toBe(true);
  });

  it('quota: usage reported, uploads past it refused with QUOTA_EXCEEDED, admins override', async () => {
    const u = await registerAndLogin(base, 'quota-user');
    const chunk = Buffer.alloc(200 * 1024, 7);
    for (let i = 0; i < 5; i++) {
      expect((await uploadMultipart(base, u.accessToken, [{ name: `q${i}.bin`, data: chunk }])).status).toBe(201);
    }
    const usage = await api(base, 'GET', '/api/files/usage', { token: u.accessToken });
    expect(usage.body).toMatchObject({ usedBytes: 5 * chunk.length, quotaBytes: 1024 * 1024 });
    const over = await uploadMultipart(base, u.accessToken, [{ name: 'q6.bin', data: chunk }]);
    expect(over.status).toBe(507);
    expect(over.body.error.code).toBe('QUOTA_EXCEEDED');
    const declared = await api(base, 'POST', '/api/files/raw', {
      token: u.accessToken,
      headers: { 'content-type': 'application/octet-stream', 'file-name': 'd.bin', 'file-size': String(chunk.length) },
      body: 'x',
    });
    expect(declared.status).toBe(507);
    const admin = await startAdminToken();
    expect((await api(base, 'PUT', `/api/users/${u.user.id}/quota`, { token: u.accessToken, json: { quotaBytes: 1e9 } })).status).toBe(403);
    expect((await api(base, 'PUT', `/api/users/${u.user.id}/quota`, { token: admin, json: { quotaBytes: 2e6 } })).status).toBe(200);
    expect((await uploadMultipart(base, u.accessToken, [{ name: 'q6.bin', data: chunk }])).status).toBe(201);
    expect(tmpEmpty()).toBe(true);
  });

  async function startAdminToken() {
    await server.core.accounts.createUser({ username: `adm${Date.now() % 100000}`, password: 'admin-password-1' }, 'admin').then(
      (u) => (adminName = u.username),
    );
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: adminName, password: 'admin-password-1' } });
    return login.body.accessToken as string;
  }
  let adminName = '';

  it('truncated multipart and a client vanishing mid-upload list nothing and leave no temp file', async () => {
    const boundary = 'XBOUNDARYX';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const c = await RawConnection.open(server.port);
    c.write(
      `POST /api/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}${'z'.repeat(5000)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    c.close();
    const c2 = await RawConnection.open(server.port);
    const body = `${head}partial-without-closing-boundary`;
    const res = await c2.request(
      `POST /api/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.accessToken}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(res.status).toBe(400);
    c2.close();
    // The vanished client's upload is cleaned up as soon as the server notices the reset.
    for (let i = 0; i < 50 && !tmpEmpty(); i++) await new Promise((r) => setTimeout(r, 100));
    const list = await api(base, 'GET', '/api/files?limit=500', { token: alice.accessToken });
    expect(list.body.files.some((f: { name: string }) => f.name === 'cut.bin')).toBe(false);
    expect(tmpEmpty()).toBe(true);
    expect((await api(base, 'GET', '/health')).status).toBe(200);
  });

  it('two uploads of the same name at once become two files', async () => {
    const [a, b] = await Promise.all([
      uploadMultipart(base, alice.accessToken, [{ name: 'same.txt', data: Buffer.from('one') }]),
      uploadMultipart(base, alice.accessToken, [{ name: 'same.txt', data: Buffer.from('two') }]),
    ]);
    expect(a.body.files[0].filename).not.toBe(b.body.files[0].filename);
    expect((await download(base, alice.accessToken, a.body.files[0].id)).body.toString()).toBe('one');
    expect((await download(base, alice.accessToken, b.body.files[0].id)).body.toString()).toBe('two');
  });

  it('a symlink planted in the storage root is never followed', async () => {
    const up = await uploadMultipart(base, alice.accessToken, [{ name: 'victim.txt', data: Buffer.from('ok') }]);
    const f = up.body.files[0];
    const p = path.join(server.dataDir, 'uploads', f.category, f.filename);
    rmSync(p);
    symlinkSync('/etc/passwd', p);
    const r = await download(base, alice.accessToken, f.id);
    expect(r.status).toBe(404);
    expect(r.body.toString()).not.toContain('root:');
  });

  it('a raw upload labelled as JSON is refused rather than stored empty; a failed multi-file upload keeps nothing', async () => {
    const r = await api(base, 'POST', '/api/files/raw', { token: alice.accessToken, headers: { 'file-name': 'x.json' }, json: { a: 1 } });
    expect(r.status).toBe(415);
    const u = await registerAndLogin(base, 'atomic-files');
    const mixed = await uploadMultipart(base, u.accessToken, [
      { name: 'one.txt', data: Buffer.from('small') },
      { name: 'two.bin', data: Buffer.alloc(300 * 1024, 2) },
    ]);
    expect(mixed.status).toBe(413);
    expect((await api(base, 'GET', '/api/files', { token: u.accessToken })).body.total).toBe(0);
  });

  it('wrong content types and no file are clear 4xx', async () => {
    const json = await api(base, 'POST', '/api/files', { token: alice.accessToken, json: { file: 'x' } });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.append('note', 'no file here');
    const res = await fetch(`${base}/api/files`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` }, body: form });
    expect(res.status).toBe(400);
  });
});
