import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection, requestOnce } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A tiny file that claims to be a 60000×60000 PNG: decoding it would need ~14 GB. */
function pixelFlood(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(60000, 0);
  ihdr.writeUInt32BE(60000, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe.each(await testDatabases())('share links and thumbnails on %s', (db) => {
  let server: TestServer;
  let base: string;
  let owner: Awaited<ReturnType<typeof registerAndLogin>>;
  let other: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
    owner = await registerAndLogin(base, 'sharer');
    other = await registerAndLogin(base, 'outsider');
  });
  afterAll(() => server.close());

  it('a share link downloads without login until its download limit; revoked and forged links are 404', async () => {
    const up = await uploadMultipart(base, owner.accessToken, [{ name: 'plan.pdf', data: Buffer.from('%PDF-1.4 plan') }]);
    const id = up.body.files[0].id;
    const created = await api(base, 'POST', `/api/files/${id}/shares`, { token: owner.accessToken, json: { maxDownloads: 2 } });
    expect(created.status).toBe(201);
    expect(created.body.url).toBe(`/s/${created.body.token}`);
    const link = created.body.url as string;
    const first = await api(base, 'GET', link);
    expect(first.status).toBe(200);
    expect(first.text).toBe('%PDF-1.4 plan');
    expect(first.headers.get('content-disposition')).toContain('plan.pdf');
    expect((await api(base, 'GET', link)).status).toBe(200);
    const third = await api(base, 'GET', link);
    expect(third.status).toBe(404);
    expect(third.body.error.code).toBe('NOT_FOUND');

    const listed = await api(base, 'GET', `/api/files/${id}/shares`, { token: owner.accessToken });
    expect(listed.body.shares[0]).toMatchObject({ downloads: 2, maxDownloads: 2, active: false });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect((await api(base, 'GET', `/api/files/${id}/shares`, { token: other.accessToken })).status).toBe(404);
    expect((await api(base, 'POST', `/api/files/${id}/shares`, { token: other.accessToken, json: {} })).status).toBe(404);

    const second = await api(base, 'POST', `/api/files/${id}/shares`, { token: owner.accessToken, json: {} });
    expect((await api(base, 'GET', second.body.url)).status).toBe(200);
    expect((await api(base, 'DELETE', `/api/shares/${second.body.share.id}`, { token: other.accessToken })).status).toBe(404);
    expect((await api(base, 'DELETE', `/api/shares/${second.body.share.id}`, { token: owner.accessToken })).status).toBe(200);
    expect((await api(base, 'GET', second.body.url)).status).toBe(404);
    for (const forged of ['/s/forged', '/s/%00', `/s/${'A'.repeat(90)}`]) expect((await api(base, 'GET', forged)).status).toBe(404);
    // Past Fastify's parameter length limit the answer is 414, still a clear client error.
    expect((await api(base, 'GET', `/s/${'A'.repeat(500)}`)).status).toBe(414);
    expect((await api(base, 'POST', `/api/files/${id}/shares`, { token: owner.accessToken, json: { expiresInSeconds: 5 } })).status).toBe(400);
  });

  /** One request on its own connection; `from` (another 127.x address) is another client. */
  const viaLink = (link: string, headers: string[] = [], from = '127.0.0.1', method = 'GET') =>
    requestOnce(server.port, [`${method} ${link} HTTP/1.1`, ...headers], '', { from });

  async function shareOf(data: Buffer, name: string, maxDownloads: number) {
    const up = await uploadMultipart(base, owner.accessToken, [{ name, data }]);
    const file = up.body.files[0];
    const created = await api(base, 'POST', `/api/files/${file.id}/shares`, { token: owner.accessToken, json: { maxDownloads } });
    return { link: created.body.url as string, file, downloads: async () => (await api(base, 'GET', `/api/files/${file.id}/shares`, { token: owner.accessToken })).body.shares[0].downloads };
  }

  it('a download is spent once however it is ranged: fifty `bytes=1-` get one body, not fifty', async () => {
    const { link, file, downloads } = await shareOf(Buffer.from('0123456789'), 'once.txt', 1);
    // Revalidation and HEAD carry no body and spend nothing.
    expect((await viaLink(link, [`If-None-Match: "${file.sha256}"`])).status).toBe(304);
    expect((await viaLink(link, [], '127.0.0.1', 'HEAD')).status).toBe(200);
    let served = '';
    let bodies = 0;
    for (let i = 0; i < 50; i++) {
      const r = await viaLink(link, ['Range: bytes=1-']);
      if (r.status === 206) {
        bodies++;
        served += r.body.toString();
      } else expect(r.status, `request ${i}`).toBe(404);
    }
    expect(bodies).toBe(1);
    // The byte that client has not fetched yet still belongs to the download it spent...
    const first = await viaLink(link, ['Range: bytes=0-0']);
    expect([first.status, first.body.toString()]).toEqual([206, '0']);
    served = first.body.toString() + served;
    expect(served).toBe('0123456789');
    // ...and nothing more, however it is asked for, from this client or another.
    for (const range of [undefined, 'bytes=0-0', 'bytes=-1', 'bytes=0-', 'bytes=5-', 'bytes=1-2,0-']) {
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const r = await viaLink(link, range ? [`Range: ${range}`] : [], from);
        expect(r.status, `${range} from ${from}`).toBe(404);
      }
    }
    expect(await downloads()).toBe(1);
  });

  it('a download manager resumes a cut download without spending another; other clients and new downloads spend one', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const { link, file, downloads } = await shareOf(data, 'big.bin', 2);
    // Client A starts the download, takes a little over a MiB and loses the connection.
    const serverSide = once(server.app.server, 'connection') as Promise<[Socket]>;
    const cut = net.connect(server.port, '127.0.0.1');
    cut.write(`GET ${link} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    let got = Buffer.alloc(0);
    for await (const chunk of cut) {
      got = Buffer.concat([got, chunk as Buffer]);
      if (got.length > 1024 * 1024) break;
    }
    cut.destroy();
    const [socket] = await serverSide;
    // The server's side of the cut connection fails with ECONNRESET and then closes.
    if (!socket.destroyed) await new Promise((r) => socket.on('close', r));
    await new Promise((r) => setImmediate(r));
    const headEnd = got.indexOf('\r\n\r\n') + 4;
    const have = got.subarray(headEnd);
    expect(got.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
    expect(data.subarray(0, have.length).equals(have)).toBe(true);
    expect(await downloads()).toBe(1);

    // It resumes from what it has, as curl -C / wget -c / browsers do: free, the rest of the file.
    const rest = await fetch(`${base}${link}`, { headers: { range: `bytes=${have.length}-`, 'if-range': `"${file.sha256}"` } });
    expect(rest.status).toBe(206);
    expect(Buffer.concat([have, Buffer.from(await rest.arrayBuffer())]).equals(data)).toBe(true);
    expect(await downloads()).toBe(1);

    // Another client starts its own download, whatever range it asks for.
    const other = await viaLink(link, [`Range: bytes=${have.length}-${have.length + 9}`], '127.0.0.2');
    expect([other.status, other.body.equals(data.subarray(have.length, have.length + 10))]).toEqual([206, true]);
    expect(await downloads()).toBe(2);
    // A's completed download is over: fetching it again is a new one, and the link is used up.
    expect((await viaLink(link)).status).toBe(404);
    expect((await viaLink(link, ['Range: bytes=0-'])).status).toBe(404);
    expect(await downloads()).toBe(2);
  });

  /**
   * A segmented downloader's first requests, in parallel: one connection per (client, segment),
   * all opened first, then every request written in the same tick.
   */
  async function segmented(link: string, size: number, clients: string[], segments = 4) {
    const step = size / segments;
    const conns = await Promise.all(
      clients.flatMap((from) => Array.from({ length: segments }, async (_, i) => ({ from, i, c: await RawConnection.open(server.port, '127.0.0.1', from) }))),
    );
    try {
      return await Promise.all(
        conns.map(async ({ from, i, c }) => {
          const r = await c.request(`GET ${link} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=${i * step}-${(i + 1) * step - 1}\r\n\r\n`);
          return { from, i, status: r.status, body: r.body };
        }),
      );
    } finally {
      for (const { c } of conns) c.close();
    }
  }

  it("a segmented downloader's parallel first requests spend one download between them", async () => {
    const data = randomBytes(400_000);
    const { link, downloads } = await shareOf(data, 'segments.bin', 1);
    const parts = await segmented(link, data.length, ['127.0.0.1']);
    expect(parts.map((p) => p.status)).toEqual([206, 206, 206, 206]);
    expect(Buffer.concat(parts.sort((a, b) => a.i - b.i).map((p) => p.body)).equals(data)).toBe(true);
    expect(await downloads()).toBe(1);
  });

  it('parallel first requests from two clients spend one download each; past the limit one client gets every body, the other none', async () => {
    const data = randomBytes(400_000);
    const two = await shareOf(data, 'two.bin', 2);
    const both = await segmented(two.link, data.length, ['127.0.0.1', '127.0.0.2']);
    expect(both.every((p) => p.status === 206)).toBe(true);
    expect(await two.downloads()).toBe(2);

    const one = await shareOf(data, 'one.bin', 1);
    const race = await segmented(one.link, data.length, ['127.0.0.1', '127.0.0.2']);
    const statuses = (from: string) => race.filter((p) => p.from === from).map((p) => p.status);
    expect([statuses('127.0.0.1'), statuses('127.0.0.2')].sort()).toEqual([[206, 206, 206, 206], [404, 404, 404, 404]]);
    expect(await one.downloads()).toBe(1);
  });

  it('behind a trusted proxy, a client keeps its download when its IPv6 address changes within its /64', async () => {
    const proxied = await startTestServer(db, { PLAZA_TRUST_PROXY: '127.0.0.1' });
    try {
      const user = await registerAndLogin(proxied.url, 'roamer');
      const up = await uploadMultipart(proxied.url, user.accessToken, [{ name: 'roam.txt', data: Buffer.from('0123456789') }]);
      const file = up.body.files[0];
      const created = await api(proxied.url, 'POST', `/api/files/${file.id}/shares`, { token: user.accessToken, json: { maxDownloads: 1 } });
      const get = (forwardedFor: string, range: string) =>
        requestOnce(proxied.port, [`GET ${created.body.url} HTTP/1.1`, `X-Forwarded-For: ${forwardedFor}`, `Range: ${range}`]);
      const first = await get('2001:db8:1:2::a', 'bytes=0-4');
      // A privacy address of the same subscriber (same /64) fetches the rest of the same download.
      const rest = await get('2001:db8:1:2:8c4e:1ff:fe00:b', 'bytes=5-9');
      expect([first.status, first.body.toString(), rest.status, rest.body.toString()]).toEqual([206, '01234', 206, '56789']);
      // Another network is another client, and the link is used up.
      expect((await get('2001:db8:1:3::a', 'bytes=5-9')).status).toBe(404);
      const shares = await api(proxied.url, 'GET', `/api/files/${file.id}/shares`, { token: user.accessToken });
      expect(shares.body.shares[0].downloads).toBe(1);
    } finally {
      await proxied.close();
    }
  });

  it('expired links are refused', async () => {
    const up = await uploadMultipart(base, owner.accessToken, [{ name: 'old.txt', data: Buffer.from('old') }]);
    const created = await api(base, 'POST', `/api/files/${up.body.files[0].id}/shares`, {
      token: owner.accessToken,
      json: { expiresInSeconds: 60 },
    });
    const realNow = Date.now;
    const clock = server.core.clock as { now: () => number };
    const original = clock.now;
    clock.now = () => realNow() + 61_000;
    try {
      expect((await api(base, 'GET', created.body.url)).status).toBe(404);
    } finally {
      clock.now = original;
    }
    expect((await api(base, 'GET', created.body.url)).status).toBe(200);
  });

  it('thumbnails: WebP for raster images, cached; SVG/HTML and pixel floods refused with 422', async () => {
    const up = await uploadMultipart(base, owner.accessToken, [
      { name: 'dot.png', data: PNG },
      { name: 'vector.svg', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') },
      { name: 'flood.png', data: pixelFlood() },
    ]);
    const [png, svg, flood] = up.body.files;
    expect(flood.category).toBe('images');
    const thumb = await fetch(`${base}/api/files/${png.id}/thumbnail?size=64`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const bytes = Buffer.from(await thumb.arrayBuffer());
    expect(bytes.subarray(0, 4).toString()).toBe('RIFF');
    expect(bytes.subarray(8, 12).toString()).toBe('WEBP');
    const again = await fetch(`${base}/api/files/${png.id}/thumbnail?size=64`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);
    expect((await api(base, 'GET', `/api/files/${svg.id}/thumbnail`, { token: owner.accessToken })).status).toBe(422);
    const fl = await api(base, 'GET', `/api/files/${flood.id}/thumbnail`, { token: owner.accessToken });
    expect(fl.status).toBe(422);
    expect(fl.body.error.code).toBe('UNSUPPORTED_IMAGE');
    expect((await api(base, 'GET', `/api/files/${png.id}/thumbnail?size=77`, { token: owner.accessToken })).status).toBe(400);
    expect((await api(base, 'GET', `/api/files/${png.id}/thumbnail`, { token: other.accessToken })).status).toBe(404);
    expect((await api(base, 'GET', '/health')).status).toBe(200);
  });
});

describe('housekeeping', () => {
  it('deleting a file removes its thumbnails; the orphan sweep removes only old bytes without a row', async () => {
    const { readdirSync, utimesSync, writeFileSync, existsSync } = await import('node:fs');
    const path = await import('node:path');
    const server = await startTestServer('sqlite');
    try {
      const u = await registerAndLogin(server.url, 'keeper');
      const up = await uploadMultipart(server.url, u.accessToken, [{ name: 'dot.png', data: PNG }]);
      const f = up.body.files[0];
      await fetch(`${server.url}/api/files/${f.id}/thumbnail?size=64`, { headers: { authorization: `Bearer ${u.accessToken}` } });
      const thumbs = path.join(server.dataDir, 'uploads', '.thumbs');
      expect(readdirSync(thumbs).some((n) => n.startsWith(f.filename))).toBe(true);
      await api(server.url, 'DELETE', `/api/files/${f.id}`, { token: u.accessToken });
      expect(readdirSync(thumbs).some((n) => n.startsWith(f.filename))).toBe(false);

      const kept = await uploadMultipart(server.url, u.accessToken, [{ name: 'kept.txt', data: Buffer.from('kept') }]);
      const docs = path.join(server.dataDir, 'uploads', 'documents');
      const old = path.join(docs, 'AAAAAAAAAAAAAAAAAAAAAA.txt');
      const fresh = path.join(docs, 'BBBBBBBBBBBBBBBBBBBBBB.txt');
      writeFileSync(old, 'orphan');
      writeFileSync(fresh, 'being finalised');
      const hourAgo = (Date.now() - 2 * 3600_000) / 1000;
      utimesSync(old, hourAgo, hourAgo);
      utimesSync(path.join(docs, kept.body.files[0].filename), hourAgo, hourAgo);
      expect(await server.core.files.sweepOrphans()).toBe(1);
      expect(existsSync(old)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
      expect(existsSync(path.join(docs, kept.body.files[0].filename))).toBe(true);
    } finally {
      await server.close();
    }
  });
});
