import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Issue 13 #12: a client that writes its whole body before it reads (Python's urllib posting
 * 5 MiB) must get the early answer (413, 401…), not a connection reset. The client here does
 * exactly that: it does not read until every byte is written, then reads the answer.
 */

const BIG = Buffer.alloc(5 * 1024 * 1024, 0x61);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes head + body without reading; fails if the write is refused (EPIPE / ECONNRESET). */
async function writeAllThenRead(port: number, head: string, body: Buffer): Promise<Answer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  await Promise.race([
    new Promise<void>((resolve, reject) => socket.write(Buffer.concat([Buffer.from(head), body]), (e) => (e ? reject(e) : resolve()))),
    failed,
  ]);
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  socket.resume();
  const answer = await Promise.race([
    new Promise<Answer>((resolve) => {
      const check = () => {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [statusLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
      };
      socket.on('data', check);
      check();
    }),
    failed,
  ]);
  socket.destroy();
  return answer;
}

const post = (path: string, headers: string[], length: number) =>
  [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, `Content-Length: ${length}`, '', ''].join('\r\n');

function multipart(field: string, size: number) {
  const boundary = 'plazaboundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  return {
    type: `Content-Type: multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([Buffer.from(head), BIG.subarray(0, size), Buffer.from(tail)]),
  };
}

describe.each(await testDatabases())('lingering close on %s', (db) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_MAX_UPLOAD_BYTES: String(1024 * 1024) });
    token = (await registerAndLogin(server.url, 'lingerer')).accessToken;
  });
  afterAll(() => server.close());

  const json = 'Content-Type: application/json';
  const cases: { name: string; request: () => { head: string; body: Buffer }; status: number; body: unknown }[] = [
    {
      name: 'seed 004 login, body over the limit',
      request: () => ({ head: post('/auth/login', [json], BIG.length), body: BIG }),
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } },
    },
    {
      name: 'native login, body over the limit',
      request: () => ({ head: post('/api/auth/login', [json], BIG.length), body: BIG }),
      status: 413,
      body: { error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } },
    },
    {
      name: 'raw upload over the upload limit (cut mid-body)',
      request: () => ({
        head: post('/api/files/raw', [`Authorization: Bearer ${token}`, 'Content-Type: application/octet-stream', 'File-Name: big.bin'], BIG.length),
        body: BIG,
      }),
      status: 413,
      body: { error: { code: 'FILE_TOO_LARGE', message: expect.any(String) } },
    },
    {
      name: 'multipart upload over the upload limit',
      request: () => {
        const m = multipart('file', BIG.length);
        return { head: post('/api/files', [`Authorization: Bearer ${token}`, m.type], m.body.length), body: m.body };
      },
      status: 413,
      body: { error: { code: 'FILE_TOO_LARGE', message: expect.any(String) } },
    },
    {
      name: 'seed 004 upload over the upload limit (seed shape)',
      request: () => {
        const m = multipart('file', BIG.length);
        return { head: post('/api/upload', [`Authorization: Bearer ${token}`, m.type], m.body.length), body: m.body };
      },
      status: 413,
      body: { detail: 'File too large' },
    },
    {
      name: 'an upload refused before its body is read (no login)',
      request: () => {
        const m = multipart('file', BIG.length);
        return { head: post('/api/files', [m.type], m.body.length), body: m.body };
      },
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: expect.any(String) } },
    },
    {
      name: 'seed 002 raw upload refused before its body is read (no login)',
      request: () => ({ head: post('/upload', ['File-Name: big.bin'], BIG.length), body: BIG }),
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: expect.any(String) } },
    },
  ];

  it.each(cases)('$name: the whole body is written, then the $status arrives', async (c) => {
    const { head, body } = c.request();
    const answer = await writeAllThenRead(server.port, head, body);
    expect(answer.status).toBe(c.status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual(c.body);
  });

  it('a tus PATCH past the announced length: the whole body is written, then the 413 arrives', async () => {
    const created = await api(server.url, 'POST', '/api/files/tus', {
      token,
      headers: { 'tus-resumable': '1.0.0', 'upload-length': String(64 * 1024), 'upload-metadata': `filename ${Buffer.from('t.bin').toString('base64')}` },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    // Chunked, so tus only finds out while reading the body.
    const chunks = Buffer.concat([Buffer.from(`${BIG.length.toString(16)}\r\n`), BIG, Buffer.from('\r\n0\r\n\r\n')]);
    const head = [
      `PATCH ${location} HTTP/1.1`,
      'Host: 127.0.0.1',
      `Authorization: Bearer ${token}`,
      'Tus-Resumable: 1.0.0',
      'Upload-Offset: 0',
      'Content-Type: application/offset+octet-stream',
      'Transfer-Encoding: chunked',
      '',
      '',
    ].join('\r\n');
    const answer = await writeAllThenRead(server.port, head, chunks);
    expect(answer.status).toBe(413);
    const health = await api(server.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
  });
});
