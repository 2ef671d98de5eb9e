import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Every answer Fastify, Node's HTTP parser or ws would write on their own (router limits, parser
 * errors, missing Host, Expect, WebSocket handshakes) comes out in Plaza's error shape.
 */

/** Sends exact bytes on a fresh connection and reads the one response, whatever happens after. */
async function rawExchange(port: number, bytes: string) {
  const conn = await RawConnection.open(port);
  try {
    return await conn.request(bytes);
  } finally {
    conn.close();
  }
}

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

const cases: { name: string; bytes: string; status: number; code: string; headers?: Record<string, string> }[] = [
  { name: 'a path parameter over the router limit', bytes: `GET /s/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\n\r\n`, status: 414, code: 'URI_TOO_LONG' },
  { name: 'bad percent-encoding in the path', bytes: 'GET /api/files/%zz HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'a truncated UTF-8 escape', bytes: 'GET /s/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'a request line over the header limit', bytes: `GET /api/health?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, status: 414, code: 'URI_TOO_LONG' },
  { name: 'headers over the limit', bytes: `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, status: 431, code: 'HEADERS_TOO_LARGE' },
  { name: 'a request line that is not HTTP', bytes: 'GARBAGE\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'an invalid method token', bytes: 'G@T / HTTP/1.1\r\nHost: x\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'HTTP/1.1 without Host', bytes: 'GET /api/health HTTP/1.1\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  {
    name: 'an Expect the server cannot meet',
    bytes: 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    status: 417,
    code: 'EXPECTATION_FAILED',
  },
  { name: 'a Content-Length that is not a number', bytes: 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  {
    name: 'both Content-Length and Transfer-Encoding',
    bytes: 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a malformed chunk size',
    bytes: 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a WebSocket handshake with an unknown version',
    bytes: `GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 99\r\n\r\n`,
    status: 400,
    code: 'BAD_REQUEST',
    headers: { 'sec-websocket-version': '13, 8' },
  },
  {
    name: 'a WebSocket handshake without a key',
    bytes: 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    status: 400,
    code: 'BAD_REQUEST',
  },
];

describe.each(await testDatabases())('framework and parser errors on %s', (db) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(db);
  });
  afterAll(() => server.close());

  it.each(cases)('$name → $status $code in Plaza shape', async (c) => {
    const r = await rawExchange(server.port, c.bytes);
    expect(r.status, r.raw.toString('latin1').slice(0, 300)).toBe(c.status);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(r.body.toString('utf8'));
    expect(body).toEqual({ error: { code: c.code, message: expect.any(String) } });
    expect(body.error.message.length).toBeGreaterThan(0);
    // Nothing of the framework's own vocabulary leaks through.
    expect(r.body.toString('utf8')).not.toMatch(/FST_|HPE_|statusCode/);
    for (const [name, value] of Object.entries(c.headers ?? {})) expect(r.headers[name]).toBe(value);
    const health = await api(server.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
  });
});

describe('shutting down', () => {
  it('a request arriving while the server closes gets 503 SHUTTING_DOWN with Retry-After in Plaza shape', async () => {
    const server = await startTestServer('sqlite');
    const conn = await RawConnection.open(server.port);
    // A request still receiving its body keeps the connection busy, so closing does not drop it.
    const body = '{"identifier":"nobody","password":"wrong-password-1"}';
    const routed = once(server.app.server, 'request');
    conn.write(`POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`);
    await routed;
    const closing = server.close();
    await waitUntil(() => !server.app.server.listening);
    conn.write(body.slice(1));
    const first = await conn.read();
    expect(first.status).toBe(401);
    const next = await conn.request('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(next.status).toBe(503);
    expect(next.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(next.headers['retry-after']).toMatch(/^\d+$/);
    expect(next.headers.connection).toBe('close');
    expect(JSON.parse(next.body.toString('utf8'))).toEqual({ error: { code: 'SHUTTING_DOWN', message: expect.any(String) } });
    conn.close();
    await closing;
  });
});

async function waitUntil(pred: () => boolean, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}
