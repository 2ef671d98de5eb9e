import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { PNG, uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection, type RawResponse, requestOnce, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const DATA = '0123456789';

/**
 * Every Range header a client may send, with what every download route must answer: one download
 * path (`sendFile`) behind the native route, share links, seed 002 and seed 004.
 */
const RANGES: Array<{ range: string | undefined; status: number; body?: string; contentRange?: string }> = [
  { range: undefined, status: 200, body: DATA },
  { range: 'bytes=2-5', status: 206, body: '2345', contentRange: 'bytes 2-5/10' },
  { range: 'bytes=7-', status: 206, body: '789', contentRange: 'bytes 7-9/10' },
  { range: 'bytes=-3', status: 206, body: '789', contentRange: 'bytes 7-9/10' },
  { range: 'bytes=0-0', status: 206, body: '0', contentRange: 'bytes 0-0/10' },
  { range: 'bytes=9-9', status: 206, body: '9', contentRange: 'bytes 9-9/10' },
  { range: 'bytes=5-100', status: 206, body: '56789', contentRange: 'bytes 5-9/10' },
  { range: 'bytes=-100', status: 206, body: DATA, contentRange: 'bytes 0-9/10' },
  { range: 'BYTES=2-5', status: 206, body: '2345', contentRange: 'bytes 2-5/10' },
  { range: 'bytes=0-99999999999999999999', status: 206, body: DATA, contentRange: 'bytes 0-9/10' },
  { range: 'bytes=-99999999999999999999', status: 206, body: DATA, contentRange: 'bytes 0-9/10' },
  // Several ranges would need multipart/byteranges: the whole file is the allowed answer.
  { range: 'bytes=0-1,4-5', status: 200, body: DATA },
  // Units Plaza does not know are ignored (RFC 9110 §14.2); so is an empty header.
  { range: 'items=0-5', status: 200, body: DATA },
  { range: '', status: 200, body: DATA },
  // Unsatisfiable or malformed byte ranges: 416 with the size.
  { range: 'bytes=999999-', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=10-', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=5-2', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=-0', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=abc', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=-', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=1e3-', status: 416, contentRange: 'bytes */10' },
  { range: 'bytes=99999999999999999999-', status: 416, contentRange: 'bytes */10' },
];

interface Route {
  name: string;
  path: string;
  headers: string[];
  /** What this route's clients read as "not found". */
  notFound(r: RawResponse): void;
  /** The error body carries this code (each front door in its own words). */
  errorCode(r: RawResponse): string;
}

const get = (port: number, url: string, headers: string[], method = 'GET') => requestOnce(port, [`${method} ${url} HTTP/1.1`, ...headers]);

const json = (r: RawResponse) => JSON.parse(r.body.toString());

describe.each(await testDatabases())('every download route on %s', (db) => {
  let server: TestServer;
  let owner: Awaited<ReturnType<typeof registerAndLogin>>;

  beforeAll(async () => {
    server = await startTestServer(db);
    owner = await registerAndLogin(server.url, 'downloader');
  });
  afterAll(() => server.close());

  /** The same file behind each route: native by id, an unlimited share link, seed 002 by name, seed 004 by path. */
  async function routesFor(name: string, data: Buffer): Promise<{ routes: Route[]; file: any }> {
    const up = await uploadMultipart(server.url, owner.accessToken, [{ name, data }]);
    expect(up.status).toBe(201);
    const file = up.body.files[0];
    const share = await api(server.url, 'POST', `/api/files/${file.id}/shares`, { token: owner.accessToken, json: {} });
    const bearer = [`Authorization: Bearer ${owner.accessToken}`];
    const nativeCode = (r: RawResponse) => json(r).error.code;
    const routes: Route[] = [
      { name: 'native', path: `/api/files/${file.id}/content`, headers: bearer, notFound: (r) => expect(nativeCode(r)).toBe('NOT_FOUND'), errorCode: nativeCode },
      { name: 'share link', path: share.body.url, headers: [], notFound: (r) => expect(nativeCode(r)).toBe('NOT_FOUND'), errorCode: nativeCode },
      { name: 'seed 002', path: `/download/${encodeURIComponent(name)}`, headers: bearer, notFound: (r) => expect(nativeCode(r)).toBe('NOT_FOUND'), errorCode: nativeCode },
      {
        name: 'seed 004',
        path: file.path,
        headers: bearer,
        notFound: (r) => expect(json(r)).toEqual({ detail: 'Not found' }),
        errorCode: (r) => (r.status === 416 ? 'RANGE_NOT_SATISFIABLE' : String(json(r).detail)),
      },
    ];
    return { routes, file };
  }

  it('answers the same Range table on every route: 206 slices, 200 for ignored ranges, 416 with the size', async () => {
    const { routes, file } = await routesFor('range.bin', Buffer.from(DATA));
    for (const route of routes) {
      for (const row of RANGES) {
        const where = `${route.name} Range: ${row.range ?? '(none)'}`;
        const r = await get(server.port, route.path, [...route.headers, ...(row.range === undefined ? [] : [`Range: ${row.range}`])]);
        expect(r.status, where).toBe(row.status);
        expect(r.headers['content-range'], where).toBe(row.contentRange);
        if (row.status === 416) {
          expect(r.headers['content-type'], where).toMatch(/^application\/json/);
          expect(r.headers['content-disposition'], where).toBeUndefined();
          expect(route.errorCode(r), where).toBe('RANGE_NOT_SATISFIABLE');
          continue;
        }
        expect(r.body.toString(), where).toBe(row.body);
        expect(r.headers['content-length'], where).toBe(String(row.body?.length));
        expect(r.headers.etag, where).toBe(`"${file.sha256}"`);
        expect(r.headers['accept-ranges'], where).toBe('bytes');
        expect(r.headers['content-type'], where).toBe('application/octet-stream');
        expect(r.headers['content-disposition'], where).toBe('attachment; filename="range.bin"');
        expect(r.headers['x-content-type-options'], where).toBe('nosniff');
        expect(r.headers['content-security-policy'], where).toContain('sandbox');
      }
      const etag = `"${file.sha256}"`;
      const revalidated = await get(server.port, route.path, [...route.headers, `If-None-Match: ${etag}`]);
      expect(revalidated.status, route.name).toBe(304);
      const stale = await get(server.port, route.path, [...route.headers, 'Range: bytes=2-5', 'If-Range: "other"']);
      expect([stale.status, stale.body.toString()], route.name).toEqual([200, DATA]);
      const head = await get(server.port, route.path, [...route.headers, 'Range: bytes=2-5'], 'HEAD');
      expect([head.status, head.headers['content-length'], head.headers['content-range']], route.name).toEqual([206, '4', 'bytes 2-5/10']);
    }
  });

  it('a stored file replaced by a symlink, a directory or a FIFO is a clean not-found on every route, never its target', async () => {
    const secret = readFileSync(path.join(server.dataDir, 'secret'));
    const plant: Array<[string, (p: string) => void]> = [
      ['symlink to the server secret', (p) => symlinkSync(path.join(server.dataDir, 'secret'), p)],
      ['relative symlink to the secret', (p) => symlinkSync('../../secret', p)],
      ['dangling symlink', (p) => symlinkSync(path.join(server.dataDir, 'nowhere'), p)],
      ['directory', (p) => mkdirSync(p)],
      ['FIFO', (p) => execFileSync('mkfifo', [p])],
      ['missing file', () => {}],
    ];
    const e = await api(server.url, 'POST', '/api/auth/elevate', { token: owner.accessToken });
    for (const [i, [kind, make]] of plant.entries()) {
      const name = `victim${i}.png`;
      const { routes, file } = await routesFor(name, PNG);
      const stored = path.join(server.dataDir, 'uploads', file.category, file.filename);
      rmSync(stored);
      make(stored);
      const seed000 = await RawConnection.open(server.port);
      const images = await seed000.request(seed000Request('GET', '/images', { url: name }, [`X-Plaza-Key: ${e.body.key}`]));
      seed000.close();
      expect([images.status, images.body.toString()], `seed 000 ${kind}`).toEqual([404, 'Image not found']);
      const thumb = await get(server.port, `/api/files/${file.id}/thumbnail`, [`Authorization: Bearer ${owner.accessToken}`]);
      expect(thumb.status, `thumbnail ${kind}`).toBe(404);
      for (const route of routes) {
        for (const range of [undefined, 'bytes=0-', 'bytes=1-']) {
          const where = `${route.name} ${kind} ${range ?? ''}`;
          const r = await get(server.port, route.path, [...route.headers, ...(range ? [`Range: ${range}`] : [])]);
          expect(r.status, where).toBe(404);
          expect(r.headers['content-type'], where).toMatch(/^application\/json/);
          expect(r.headers['content-disposition'], where).toBeUndefined();
          route.notFound(r);
          expect(r.body.includes(secret.subarray(0, 16)), where).toBe(false);
        }
      }
    }
    expect((await api(server.url, 'GET', '/health')).status).toBe(200);
  });

  it('a category folder replaced by a symlink to outside storage is not followed on any route', async () => {
    const { routes, file } = await routesFor('outside.png', PNG);
    const folder = path.join(server.dataDir, 'uploads', file.category);
    const outside = mkdtempSync(path.join(tmpdir(), 'plaza-outside-'));
    try {
      // The folder moves out of the data dir and a link takes its place: the bytes are still
      // there, but no longer inside storage.
      renameSync(folder, path.join(outside, file.category));
      symlinkSync(path.join(outside, file.category), folder);
      for (const route of routes) {
        const r = await get(server.port, route.path, route.headers);
        expect(r.status, route.name).toBe(404);
        route.notFound(r);
      }
    } finally {
      rmSync(folder, { force: true });
      renameSync(path.join(outside, file.category), folder);
      rmSync(outside, { recursive: true, force: true });
    }
    const back = await get(server.port, routes[0]?.path ?? '', routes[0]?.headers ?? []);
    expect(back.status).toBe(200);
  });
});
