import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';

describe.each(await testDatabases())('seed file routes on %s', (db) => {
  let server: TestServer;
  let base: string;
  let owner: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
    owner = await registerAndLogin(base, 'sihaun');
  });
  afterAll(() => server.close());

  it('seed 000: GET /images with a key serves the image by name; 404 "Image not found" in two chunks', async () => {
    const up = await uploadMultipart(base, owner.accessToken, [
      { name: 'cat.png', data: PNG },
      { name: 'page.png', data: Buffer.from('<html>not an image</html>') },
    ]);
    expect(up.status).toBe(201);
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'sihaun', password: PASSWORD }));
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    const key = /key=([0-9a-f]+)/.exec(priv.headers['set-cookie'] ?? '')?.[1];
    const cookie = [`Set-Cookie: key=${key}; Max-Age=3600`];

    const noKey = await c.request(seed000Request('GET', '/images', { url: 'cat.png' }));
    expect(noKey.statusLine).toBe('HTTP/1.1 401 Unauthorized');

    const img = await c.request(seed000Request('GET', '/images', { url: 'cat.png' }, cookie));
    expect(img.statusLine).toBe('HTTP/1.1 200 OK');
    expect(img.headers['content-type']).toBe('image/png');
    expect(Number(img.headers['content-length'])).toBe(PNG.length);
    expect(img.body.equals(PNG)).toBe(true);

    const byStored = await c.request(seed000Request('POST', '/images', { url: up.body.files[0].filename }, cookie));
    expect(byStored.body.equals(PNG)).toBe(true);

    for (const url of ['missing.png', 'page.png', '../../../etc/passwd', '/etc/passwd', '..%2f..%2fsecret', 'cat.png\u0000.txt']) {
      const nf = await c.request(seed000Request('GET', '/images', { url }, cookie));
      expect(nf.statusLine, url).toBe('HTTP/1.1 404 Not Found');
      expect(nf.body.toString()).toBe('Image not found');
    }
    // SVG is an image to the seed client, but it never runs in Plaza's origin.
    await uploadMultipart(base, owner.accessToken, [{ name: 'logo.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>') }]);
    const svg = await c.request(seed000Request('GET', '/images', { url: 'logo.svg' }, cookie));
    expect(svg.status).toBe(200);
    expect(svg.headers['content-disposition']).toMatch(/^attachment/);
    expect(svg.headers['content-security-policy']).toContain('sandbox');
    expect(svg.headers['x-content-type-options']).toBe('nosniff');
    expect(c.closed).toBe(false);
    c.close();
  });

  it("seed 000: another user's key does not reach this user's images", async () => {
    const other = await registerAndLogin(base, 'other000');
    const e = await api(base, 'POST', '/api/auth/elevate', { token: other.accessToken });
    const c = await RawConnection.open(server.port);
    const r = await c.request(seed000Request('GET', '/images', { url: 'cat.png' }, [`X-Plaza-Key: ${e.body.key}`]));
    expect(r.status).toBe(404);
    c.close();
  });

  it('seed 002: POST /upload (multipart and raw File-Name), GET /files, GET /download/<name>; login required', async () => {
    const login = await api(base, 'POST', '/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=sihaun&password=${PASSWORD}`,
    });
    const cookie = cookieFrom(login.headers, 'plaza_session') ?? '';
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('report body')]), 'report.txt');
    const mp = await fetch(`${base}/upload`, { method: 'POST', headers: { cookie }, body: form });
    expect(mp.status).toBe(200);
    expect(await mp.json()).toMatchObject({ message: 'File uploaded successfully', filename: 'report.txt' });

    const raw = await api(base, 'POST', '/upload', {
      cookie,
      headers: { 'file-name': 'big.log', 'file-size': '9', 'content-type': 'application/octet-stream' },
      body: 'line1\nok\n',
    });
    expect(raw.status).toBe(200);

    const list = await api(base, 'GET', '/files', { cookie });
    expect(list.body.files).toEqual(expect.arrayContaining(['report.txt', 'big.log']));
    const dl = await api(base, 'GET', '/download/report.txt', { cookie });
    expect(dl.status).toBe(200);
    expect(dl.text).toBe('report body');
    expect(dl.headers.get('content-disposition')).toMatch(/attachment; filename="report.txt"/);
    expect((await api(base, 'GET', '/download/..%2F..%2Fetc%2Fpasswd', { cookie })).status).toBe(404);
    expect((await api(base, 'GET', '/download/nope.txt', { cookie })).status).toBe(404);

    expect((await api(base, 'GET', '/files')).status).toBe(401);
    expect((await api(base, 'POST', '/upload', { headers: { 'file-name': 'x.txt' }, body: 'x' })).status).toBe(401);
    const browser = await api(base, 'GET', '/files', { headers: { accept: 'text/html' } });
    expect(browser.status).toBe(303);
  });

  it('seed 004: POST /api/upload(/multiple), GET /api/files, GET /uploads/<category>/<name>, DELETE by filename', async () => {
    const t = owner.accessToken;
    const form = new FormData();
    form.append('file', new Blob([PNG]), 'logo.png');
    const single = await fetch(`${base}/api/upload`, { method: 'POST', headers: { authorization: `Bearer ${t}` }, body: form });
    expect(single.status).toBe(200);
    const s = (await single.json()) as Record<string, any>;
    expect(s).toMatchObject({ original_filename: 'logo.png', detail: 'File uploaded successfully', size: PNG.length, content_type: 'image/png' });
    expect(s.path).toBe(`/uploads/images/${s.filename}`);

    const multi = new FormData();
    multi.append('files', new Blob([Buffer.from('a')]), 'a.txt');
    multi.append('files', new Blob([Buffer.from('b')]), 'b.txt');
    const many = await fetch(`${base}/api/upload/multiple`, { method: 'POST', headers: { authorization: `Bearer ${t}` }, body: multi });
    expect(((await many.json()) as { files: unknown[] }).files).toHaveLength(2);

    const list = await api(base, 'GET', '/api/files', { token: t });
    expect(list.body.files.some((f: { filename: string }) => f.filename === s.filename)).toBe(true);

    const served = await fetch(`${base}${s.path}`, { headers: { authorization: `Bearer ${t}` } });
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer()).equals(PNG)).toBe(true);
    // Never a public folder.
    const anon = await api(base, 'GET', s.path);
    expect(anon.status).toBe(401);
    expect(anon.body).toEqual({ detail: 'Not authenticated' });
    const stranger = await registerAndLogin(base, 'stranger004');
    expect((await api(base, 'GET', s.path, { token: stranger.accessToken })).status).toBe(404);
    expect((await api(base, 'GET', `/uploads/documents/${s.filename}`, { token: t })).status).toBe(404);
    expect((await api(base, 'GET', '/uploads/images/..%2F..%2Fsecret', { token: t })).status).toBe(404);
    expect((await api(base, 'GET', '/uploads/../data/secret', { token: t })).status).toBe(404);

    const del = await api(base, 'DELETE', `/api/files/${s.filename}`, { token: t });
    expect(del.status).toBe(200);
    expect((await api(base, 'GET', s.path, { token: t })).status).toBe(404);
    expect((await api(base, 'DELETE', `/api/files/${s.filename}`, { token: t })).status).toBe(404);
  });
});
