import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Issue 20 #1: slow clients and connection caps, with real sockets dripping bytes. The deadlines
 * are set to a second or two here so the drips take seconds, not minutes. Connection handling
 * does not touch the database, so these run on SQLite only.
 */

/** A raw client that records everything it receives and when the server ended the connection. */
class Drip {
  data = Buffer.alloc(0);
  ended: number | undefined;
  reset = false;
  readonly closed: Promise<void>;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => (this.data = Buffer.concat([this.data, d])));
    socket.on('end', () => (this.ended = Date.now()));
    socket.on('error', () => (this.reset = true));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.closed.then(() => clearInterval(this.timer));
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<Drip> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    await once(socket, 'connect');
    return new Drip(socket);
  }

  /** Writes `bytes`, then `chunk` every `everyMs` for as long as the connection is writable. */
  drip(bytes: string, chunk: string | Buffer, everyMs: number) {
    this.socket.write(bytes);
    this.timer = setInterval(() => {
      if (this.socket.writable) this.socket.write(chunk);
    }, everyMs);
  }

  get text() {
    return this.data.toString('latin1');
  }

  /** Status and JSON body of the one answer received. */
  answer() {
    const end = this.text.indexOf('\r\n\r\n');
    const head = this.text.slice(0, end);
    return {
      status: Number(head.split(' ')[1]),
      head,
      json: JSON.parse(this.data.subarray(end + 4).toString('utf8')),
    };
  }

  close() {
    clearInterval(this.timer);
    this.socket.destroy();
  }
}

const SHORT = {
  PLAZA_HEADERS_TIMEOUT_SECONDS: '1',
  PLAZA_BODY_TIMEOUT_SECONDS: '1',
  PLAZA_UPLOAD_MIN_BYTES_PER_SECOND: String(64 * 1024),
  PLAZA_UPLOAD_RATE_WINDOW_SECONDS: '1',
  PLAZA_MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
};

describe('slow clients', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', SHORT);
    token = (await registerAndLogin(server.url, 'dripper')).accessToken;
  });
  afterAll(() => server.close());

  it('a login body dripping one byte at a time is answered 408 REQUEST_TIMEOUT and closed', async () => {
    const c = await Drip.open(server.port);
    const started = Date.now();
    c.drip('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n', '{', 200);
    await c.closed;
    const a = c.answer();
    expect(a.status).toBe(408);
    expect(a.head).toMatch(/content-type: application\/json; charset=utf-8/i);
    expect(a.json).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) } });
    // The answer ends the connection (FIN), not a reset.
    expect(c.ended).toBeDefined();
    expect(c.reset).toBe(false);
    expect(c.ended! - started).toBeGreaterThanOrEqual(900);
    expect(c.ended! - started).toBeLessThan(4000);
  });

  it('headers dripping one line at a time are cut after the headers timeout with 408', async () => {
    const c = await Drip.open(server.port);
    const started = Date.now();
    c.drip('GET /api/health HTTP/1.1\r\nHost: x\r\n', 'X-Slow: y\r\n', 200);
    await c.closed;
    expect(c.answer().status).toBe(408);
    expect(c.answer().json.error.code).toBe('REQUEST_TIMEOUT');
    expect(c.ended! - started).toBeGreaterThanOrEqual(900);
    expect(c.ended! - started).toBeLessThan(4000);
  });

  it('a connection that sends nothing is closed after the headers timeout, without a word', async () => {
    const c = await Drip.open(server.port);
    const started = Date.now();
    await c.closed;
    expect(c.data.length).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('an idle keep-alive connection (seed 000 style) and a chat socket outlive every deadline', async () => {
    const conn = await RawConnection.open(server.port);
    const chat = await ChatClient.open(server.url, { token });
    expect((await conn.request('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(200);
    // Idle (the user is typing) for longer than the headers and body deadlines together.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await conn.request('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(200);
    expect((await chat.request({ type: 'ping' })).type).toBe('pong');
    conn.close();
    await chat.close();
  });

  /**
   * A raw upload sent `bytesPerTick` every 50 ms until the server answers (or `total` is sent).
   * With `finish`, whatever is left is then sent at once before the connection is dropped.
   */
  async function paced(name: string, total: number, bytesPerTick: number, finish = false) {
    const c = await Drip.open(server.port);
    const head = `POST /api/files/raw HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nFile-Name: ${name}\r\nContent-Length: ${total}\r\n\r\n`;
    const started = Date.now();
    let sent = 0;
    c.socket.write(head);
    const timer = setInterval(() => {
      if (!c.socket.writable || sent >= total) return clearInterval(timer);
      const n = Math.min(bytesPerTick, total - sent);
      c.socket.write(Buffer.alloc(n, 0x62));
      sent += n;
    }, 50);
    const response = new Promise<void>((resolve) => {
      const check = () => c.text.includes('\r\n\r\n') && resolve();
      c.socket.on('data', check);
    });
    await Promise.race([response, c.closed]);
    clearInterval(timer);
    const elapsed = Date.now() - started;
    const answer = c.text === '' ? undefined : c.answer();
    if (finish && c.socket.writable) {
      c.socket.end(Buffer.alloc(total - sent, 0x62));
      await c.closed;
    }
    c.close();
    return { status: answer?.status ?? 0, json: answer?.json, elapsed };
  }

  it('an upload faster than the minimum rate is never cut, however long it takes', async () => {
    // 16 KiB per 50 ms ≈ 320 KiB/s, five times the minimum, for ~3 s: past the body timeout and
    // three rate windows.
    const r = await paced('fast.bin', 960 * 1024, 16 * 1024);
    expect(r.status).toBe(201);
    expect(r.elapsed).toBeGreaterThan(2500);
    const list = await api(server.url, 'GET', '/api/files', { token });
    expect(list.body.files.map((f: { name: string }) => f.name)).toContain('fast.bin');
  });

  it('an upload slower than the minimum rate is cut with 408 and stores nothing, even if the rest follows', async () => {
    // 1 KiB per 50 ms ≈ 20 KiB/s, under the 64 KiB/s minimum; after the 408 the client sends
    // the rest at once, while the connection still lingers.
    const total = 900 * 1024;
    const r = await paced('slow.bin', total, 1024, true);
    expect(r.status).toBe(408);
    expect(r.json.error.code).toBe('REQUEST_TIMEOUT');
    expect(r.elapsed).toBeLessThan(4000);
    // The upload's temp file is gone once its handler is done (failed, or renamed into place).
    const uploads = path.join(server.dataDir, 'uploads');
    await waitFor(async () => readdirSync(path.join(uploads, '.tmp')).length === 0);
    const stored = ['images', 'documents', 'files'].flatMap((d) =>
      readdirSync(path.join(uploads, d)).map((f) => statSync(path.join(uploads, d, f)).size),
    );
    expect(stored).not.toContain(total);
    const list = await api(server.url, 'GET', '/api/files', { token });
    expect(list.status).toBe(200);
    expect(list.body.files.map((f: { name: string }) => f.name)).not.toContain('slow.bin');
  });
});

describe('connection caps', () => {
  let server: TestServer;
  const open: Drip[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_MAX_CONNECTIONS: '8', PLAZA_MAX_CONNECTIONS_PER_IP: '5' });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await server.close();
  });

  /**
   * A connection that is accepted and busy: its request is in flight (headers in, body awaited),
   * proven by Node's `100 Continue`. Busy connections are never closed to make room.
   */
  async function held(localAddress: string) {
    const c = await Drip.open(server.port, localAddress);
    open.push(c);
    c.socket.write('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n');
    await waitFor(async () => c.text.startsWith('HTTP/1.1 100 Continue'));
    return c;
  }

  async function refused(localAddress: string) {
    const c = await Drip.open(server.port, localAddress);
    open.push(c);
    c.socket.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    expect(c.reset).toBe(false);
    return c.answer();
  }

  it('one address past its cap gets 503 TOO_MANY_CONNECTIONS with Retry-After; other addresses are served', async () => {
    const first = await Promise.all([1, 2, 3, 4, 5].map(() => held('127.0.0.1')));
    const over = await refused('127.0.0.1');
    expect(over.status).toBe(503);
    expect(over.head).toMatch(/retry-after: \d+/i);
    expect(over.head).toMatch(/content-type: application\/json; charset=utf-8/i);
    expect(over.json).toEqual({ error: { code: 'TOO_MANY_CONNECTIONS', message: expect.stringMatching(/your address/) } });

    // Another client address is served meanwhile.
    const other = await held('127.0.0.2');
    // A slot freed is a slot usable again.
    first[0]!.close();
    await waitFor(async () => {
      const again = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.1');
      again.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
      const ok = await again.read().then((r) => r.status === 200, () => false);
      again.close();
      return ok;
    });
    for (const c of [...first.slice(1), other]) c.close();
  });

  it('past the global cap every address gets 503 TOO_MANY_CONNECTIONS', async () => {
    const a = await Promise.all([1, 2, 3, 4, 5].map(() => held('127.0.0.3')));
    const b = await Promise.all([1, 2, 3].map(() => held('127.0.0.4')));
    const over = await refused('127.0.0.5');
    expect(over.status).toBe(503);
    expect(over.json).toEqual({ error: { code: 'TOO_MANY_CONNECTIONS', message: expect.stringMatching(/server/) } });
    for (const c of [...a, ...b]) c.close();
  });
});

async function waitFor(pred: () => Promise<boolean>, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
