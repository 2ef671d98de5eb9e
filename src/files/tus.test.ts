import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases, withWriters } from '../../test/helpers/databases.js';
import { type RawResponse, requestOnce } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { HashingFileStore } from './tus-store.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function tus(base: string, method: string, url: string, token: string | undefined, headers: Record<string, string> = {}, body?: Buffer) {
  const res = await fetch(url.startsWith('http') ? url : base + url, {
    method,
    headers: { 'tus-resumable': '1.0.0', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

// The SQLite run writes uploads with O_DIRECT (where the temp filesystem takes it), the PostgreSQL
// run buffered: both disk writers meet every case.
describe.each(withWriters(await testDatabases()))('tus resumable uploads on %s (O_DIRECT asked: %s)', (db, direct) => {
  let server: TestServer;
  let base: string;
  let user: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_MAX_UPLOAD_BYTES: String(4 * 1024 * 1024),
      PLAZA_USER_QUOTA_BYTES: String(6 * 1024 * 1024),
      PLAZA_UPLOAD_DIRECT_IO: String(direct),
    });
    base = server.url;
    user = await registerAndLogin(base, 'tusser');
  });
  afterAll(() => server.close());

  it("tus's own refusals come out in Plaza's error shape, with tus's headers kept", async () => {
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': '10',
      'upload-metadata': `filename ${b64('shape.bin')}`,
    });
    const location = created.headers.get('location') ?? '';
    const cases: Array<[string, () => ReturnType<typeof tus>, number, string]> = [
      ['no Tus-Resumable', () => fetch(`${base}/api/files/tus`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}`, 'upload-length': '3' } }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() })), 412, 'PRECONDITION_FAILED'],
      ['a bad Upload-Length', () => tus(base, 'POST', '/api/files/tus', user.accessToken, { 'upload-length': '-5' }), 400, 'BAD_REQUEST'],
      ['a wrong offset', () => tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': '3', 'content-type': 'application/offset+octet-stream' }, Buffer.from('abc')), 409, 'UPLOAD_CONFLICT'],
      ['past Upload-Length', () => tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, Buffer.alloc(20)), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, send, status, code] of cases) {
      const r = await send();
      expect(r.status, name).toBe(status);
      expect(r.headers.get('content-type'), name).toBe('application/json; charset=utf-8');
      expect(JSON.parse(r.text), name).toEqual({ error: { code, message: expect.any(String) } });
      expect(r.headers.get('tus-resumable'), name).toBe('1.0.0');
    }
  });

  it('creates, resumes after an offset check, refuses a wrong offset, and finishes into a listed file', async () => {
    const data = randomBytes(300_000);
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': String(data.length),
      'upload-metadata': `filename ${b64('movie.bin')}`,
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    expect(location).toMatch(/^\/api\/files\/tus\/[0-9a-f]{32}$/);
    const patch = (offset: number, chunk: Buffer) =>
      tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, chunk);
    const first = await patch(0, data.subarray(0, 100_000));
    expect(first.status).toBe(204);
    expect(first.headers.get('upload-offset')).toBe('100000');
    const head = await tus(base, 'HEAD', location, user.accessToken);
    expect(head.headers.get('upload-offset')).toBe('100000');
    expect((await patch(50_000, data.subarray(50_000, 60_000))).status).toBe(409);
    const done = await patch(100_000, data.subarray(100_000));
    expect(done.status).toBe(200);
    const file = JSON.parse(done.text).file;
    expect(file).toMatchObject({ name: 'movie.bin', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    const list = await api(base, 'GET', '/api/files', { token: user.accessToken });
    expect(list.body.files.some((f: { id: string }) => f.id === file.id)).toBe(true);
    const dl = await fetch(`${base}/api/files/${file.id}/content`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    expect(Buffer.from(await dl.arrayBuffer()).equals(data)).toBe(true);
  });

  it('keeps a prefix of what arrived when a client vanishes mid-PATCH, and the resume from HEAD ends with the right SHA-256', async () => {
    const data = randomBytes(1_000_000);
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': String(data.length),
      'upload-metadata': `filename ${b64('cut.bin')}`,
    });
    const location = created.headers.get('location') ?? '';
    // A raw socket announces the whole body, sends 400,000 bytes of it, and goes away.
    const { port } = new URL(base);
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${user.accessToken}\r\nTus-Resumable: 1.0.0\r\n` +
        `Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
    );
    socket.end(data.subarray(0, 400_000));
    // What reached the disk writer is kept: a prefix of the bytes sent (the last few KiB still
    // queued in the stream when the cut came may be dropped, and tus clients resend from HEAD's offset).
    const stored = path.join(server.dataDir, 'uploads', '.tus', location.split('/').pop() ?? '');
    let size = -1;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const now = statSync(stored).size;
      if (now === size && now > 0) break;
      size = now;
    }
    socket.destroy();
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(400_000);
    expect(readFileSync(stored).equals(data.subarray(0, size))).toBe(true);
    // The offset stays where the bytes stopped, and the resume from it ends with the right digest.
    const head = await tus(base, 'HEAD', location, user.accessToken);
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(size));
    const done = await tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': String(size), 'content-type': 'application/offset+octet-stream' }, data.subarray(size));
    expect(done.status).toBe(200);
    expect(JSON.parse(done.text).file).toMatchObject({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  });

  /** One raw request on its own connection: the exact framing a client chose. */
  const rawTus = (token: string, [requestLine = '', ...rest]: string[], body: string | Buffer = '') =>
    requestOnce(server.port, [requestLine, `Authorization: Bearer ${token}`, 'Tus-Resumable: 1.0.0', ...rest], body);

  it('lists a file only when it is exactly the bytes declared and received; anything else stays unfinished or is refused', async () => {
    const u = await registerAndLogin(base, 'tus-sizes');
    const off = 'Content-Type: application/offset+octet-stream';
    const create = (name: string, declared: number, extra: string[] = [], body = '') =>
      rawTus(u.accessToken, [`POST /api/files/tus HTTP/1.1`, `Upload-Length: ${declared}`, `Upload-Metadata: filename ${b64(name)}`, `Content-Length: ${Buffer.byteLength(body)}`, ...extra], body);
    // [name, declared, what is sent, expected status, listed size (undefined: not listed), upload offset left behind]
    const rows: Array<{ name: string; declared: number; send: () => Promise<RawResponse>; status: number; listed?: number; offset?: number }> = [
      { name: 'zero.bin', declared: 0, send: () => create('zero.bin', 0), status: 201, listed: 0 },
      { name: 'zero-typed.bin', declared: 0, send: () => create('zero-typed.bin', 0, ['Content-Type: text/plain']), status: 201, listed: 0 },
      { name: 'lie-text0.bin', declared: 0, send: () => create('lie-text0.bin', 0, ['Content-Type: text/plain'], '0123456789'), status: 415 },
      { name: 'lie-json0.bin', declared: 0, send: () => create('lie-json0.bin', 0, ['Content-Type: application/json'], '{"a":1}'), status: 415 },
      { name: 'lie-text10.bin', declared: 10, send: () => create('lie-text10.bin', 10, ['Content-Type: text/plain'], '0123456789'), status: 415 },
      { name: 'lie-over0.bin', declared: 0, send: () => create('lie-over0.bin', 0, [off], '0123456789'), status: 413 },
      { name: 'lie-over3.bin', declared: 3, send: () => create('lie-over3.bin', 3, [off], '0123456789'), status: 413 },
      { name: 'with-upload.bin', declared: 10, send: () => create('with-upload.bin', 10, [off], '0123456789'), status: 201, listed: 10 },
      { name: 'part-upload.bin', declared: 10, send: () => create('part-upload.bin', 10, [off], '012'), status: 201, offset: 3 },
    ];
    for (const row of rows) {
      const r = await row.send();
      expect(r.status, row.name).toBe(row.status);
      // Plaza's refusals are its JSON errors; tus's own (413 past Upload-Length) stay as tus words them.
      if (r.status === 415) expect(JSON.parse(r.body.toString()).error.code, row.name).toBe('UNSUPPORTED_MEDIA_TYPE');
      if (row.listed !== undefined) {
        expect(JSON.parse(r.body.toString()).file, row.name).toMatchObject({ name: row.name, size: row.listed });
        expect(r.headers['upload-expires'], row.name).toBeUndefined();
      }
      if (row.offset !== undefined) {
        expect(r.headers['upload-offset'], row.name).toBe(String(row.offset));
        const head = await tus(base, 'HEAD', r.headers.location ?? '', u.accessToken);
        expect([head.status, head.headers.get('upload-offset')], row.name).toEqual([200, String(row.offset)]);
      }
    }
    // PATCHes that leave the declared and sent sizes apart.
    const patched = async (name: string, declared: number, body: string) => {
      const created = await create(name, declared);
      return rawTus(u.accessToken, [`PATCH ${created.headers.location} HTTP/1.1`, 'Upload-Offset: 0', off, `Content-Length: ${body.length}`], body);
    };
    expect((await patched('short.bin', 10, '012')).status).toBe(204);
    expect((await patched('long.bin', 3, '0123456789')).status).toBe(413);
    expect((await patched('exact.bin', 10, '0123456789')).status).toBe(200);

    const list = await api(base, 'GET', '/api/files?limit=100', { token: u.accessToken });
    const listed = Object.fromEntries(list.body.files.map((f: { name: string; size: number }) => [f.name, f.size]));
    expect(listed).toEqual({ 'zero.bin': 0, 'zero-typed.bin': 0, 'with-upload.bin': 10, 'exact.bin': 10 });
    const empty = createHash('sha256').update('').digest('hex');
    const ten = createHash('sha256').update('0123456789').digest('hex');
    for (const f of list.body.files) expect(f.sha256, f.name).toBe(f.size === 0 ? empty : ten);
  });

  it('refuses a chunked PATCH that runs past Upload-Length (413), and the upload stays usable', async () => {
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': '10',
      'upload-metadata': `filename ${b64('chunked.txt')}`,
    });
    const location = created.headers.get('location') ?? '';
    // No Content-Length: the overrun is only found while the bytes arrive.
    const { port } = new URL(base);
    const socket = net.connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.write(
      `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${user.accessToken}\r\nTus-Resumable: 1.0.0\r\n` +
        `Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `32\r\n${'a'.repeat(50)}\r\n0\r\n\r\n`,
    );
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    const head = await tus(base, 'HEAD', location, user.accessToken);
    expect(head.headers.get('upload-offset')).toBe('0');
    const done = await tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, Buffer.from('0123456789'));
    expect(done.status).toBe(200);
    expect(JSON.parse(done.text).file).toMatchObject({ name: 'chunked.txt', size: 10 });
  });

  it('expires an unfinished upload a day after its last change, not its creation', async () => {
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': '1000',
      'upload-metadata': `filename ${b64('slow.bin')}`,
    });
    const location = created.headers.get('location') ?? '';
    const id = location.split('/').pop() ?? '';
    const dir = path.join(server.dataDir, 'uploads', '.tus');
    const patch = (offset: number, n: number) =>
      tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, Buffer.alloc(n, 1));
    expect((await patch(0, 100)).status).toBe(204);
    // Created two days ago, written to just now: still alive, expiring a day from now.
    const metaFile = path.join(dir, `${id}.json`);
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    writeFileSync(metaFile, JSON.stringify({ ...meta, creation_date: new Date(Date.now() - 48 * 3600_000).toISOString() }));
    expect((await tus(base, 'HEAD', location, user.accessToken)).status).toBe(200);
    const more = await patch(100, 100);
    expect(more.status).toBe(204);
    expect(Date.parse(more.headers.get('upload-expires') ?? '') - Date.now()).toBeGreaterThan(23 * 3600_000);
    // Untouched for two days: gone, and the sweep removes its files.
    const old = new Date(Date.now() - 48 * 3600_000);
    utimesSync(path.join(dir, id), old, old);
    expect((await tus(base, 'HEAD', location, user.accessToken)).status).toBe(410);
    const store = new HashingFileStore({ directory: dir, expirationPeriodInMilliseconds: 24 * 3600_000 });
    expect(await store.deleteExpired()).toBeGreaterThanOrEqual(1);
    expect(readdirSync(dir).filter((n) => n.startsWith(id))).toEqual([]);
  });

  it("needs a login, hides other users' uploads, and enforces size, quota and metadata", async () => {
    const other = await registerAndLogin(base, 'tus-other');
    const created = await tus(base, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': '10',
      'upload-metadata': `filename ${b64('x.txt')}`,
    });
    const location = created.headers.get('location') ?? '';
    expect((await tus(base, 'HEAD', location, undefined)).status).toBe(401);
    expect((await tus(base, 'HEAD', location, other.accessToken)).status).toBe(404);
    const stolen = await tus(base, 'PATCH', location, other.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, Buffer.from('0123456789'));
    expect(stolen.status).toBe(404);
    expect((await tus(base, 'POST', '/api/files/tus', undefined, { 'upload-length': '10' })).status).toBe(401);
    const big = await tus(base, 'POST', '/api/files/tus', user.accessToken, { 'upload-length': String(5 * 1024 * 1024), 'upload-metadata': `filename ${b64('big.bin')}` });
    expect(big.status).toBe(413);
    const noName = await tus(base, 'POST', '/api/files/tus', user.accessToken, { 'upload-length': '10' });
    expect(noName.status).toBe(400);
    const over = await tus(base, 'POST', '/api/files/tus', other.accessToken, { 'upload-length': String(4 * 1024 * 1024), 'upload-metadata': `filename ${b64('a.bin')}` });
    expect(over.status).toBe(201);
    // The unfinished 4 MiB holds its space: a second 4 MiB would pass the 6 MiB quota.
    const second = await tus(base, 'POST', '/api/files/tus', other.accessToken, { 'upload-length': String(4 * 1024 * 1024), 'upload-metadata': `filename ${b64('b.bin')}` });
    expect(second.status).toBe(507);
    const too = await tus(base, 'POST', '/api/files/tus', user.accessToken, { 'upload-length': 'abc', 'upload-metadata': `filename ${b64('a.bin')}` });
    expect(too.status).toBe(400);
    // Names the store would treat as its own files (metadata, traversal) are simply missing.
    const id = location.split('/').pop();
    for (const bad of [`${id}.json`, '..%2F..%2Fsecret', 'zz']) {
      const r = await tus(base, 'DELETE', `/api/files/tus/${bad}`, other.accessToken);
      expect(r.status, bad).toBe(404);
    }
    expect((await tus(base, 'HEAD', location, user.accessToken)).status).toBe(200);
    // A PATCH with more bytes than the upload has left is refused, and the upload stays usable.
    const extra = await tus(base, 'PATCH', location, user.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, Buffer.alloc(50, 1));
    expect(extra.status).toBeGreaterThanOrEqual(400);
    expect(extra.status).toBeLessThan(500);
    expect((await api(base, 'GET', '/health')).status).toBe(200);
  });
});

describe('tus sweep', () => {
  it('also removes what tus would skip: unreadable metadata and complete uploads never finalised, once they are old', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plaza-tus-sweep-'));
    try {
      const old = new Date(Date.now() - 48 * 3600_000);
      const plant = (id: string, meta: string, data: string, age?: Date) => {
        writeFileSync(path.join(dir, id), data);
        writeFileSync(path.join(dir, `${id}.json`), meta);
        if (age) for (const f of [id, `${id}.json`]) utimesSync(path.join(dir, f), age, age);
      };
      const id = (n: number) => String(n).repeat(32);
      plant(id(1), '', '', old); // a creation the disk cut short
      plant(id(2), JSON.stringify({ id: id(2), size: 3, offset: 0, creation_date: old.toISOString() }), 'abc', old); // complete, never finalised
      plant(id(3), '', ''); // cut short just now: may still be in use
      plant(id(4), JSON.stringify({ id: id(4), size: 10, offset: 0, creation_date: new Date().toISOString() }), 'abc'); // alive
      writeFileSync(path.join(dir, `${id(5)}.json`), ''); // metadata without data, old
      utimesSync(path.join(dir, `${id(5)}.json`), old, old);
      const store = new HashingFileStore({ directory: dir, expirationPeriodInMilliseconds: 24 * 3600_000 });
      expect(await store.deleteExpired()).toBe(3);
      expect(readdirSync(dir).sort()).toEqual([id(3), `${id(3)}.json`, id(4), `${id(4)}.json`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tus resumes after a server restart', () => {
  it('continues from the stored offset and ends with the right SHA-256', async () => {
    const first = await startTestServer('sqlite');
    const user = await registerAndLogin(first.url, 'restarter');
    const data = randomBytes(200_000);
    const created = await tus(first.url, 'POST', '/api/files/tus', user.accessToken, {
      'upload-length': String(data.length),
      'upload-metadata': `filename ${b64('resume.bin')}`,
    });
    const location = created.headers.get('location') ?? '';
    await tus(first.url, 'PATCH', location, user.accessToken, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, data.subarray(0, 120_000));
    await first.app.close();
    await first.core.close();

    const second = await startTestServer('sqlite', { PLAZA_DATA_DIR: first.dataDir });
    try {
      // Tokens survive the restart: sessions are in the database, the secret on disk.
      const head = await tus(second.url, 'HEAD', location, user.accessToken);
      expect(head.headers.get('upload-offset')).toBe('120000');
      const done = await tus(second.url, 'PATCH', location, user.accessToken, { 'upload-offset': '120000', 'content-type': 'application/offset+octet-stream' }, data.subarray(120_000));
      expect(done.status).toBe(200);
      expect(JSON.parse(done.text).file.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(readdirSync(path.join(first.dataDir, 'uploads', '.tus')).length).toBe(0);
    } finally {
      await second.close();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
