import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection, type RawResponse } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { WELCOME } from './netclass/semantics.js';
import { startNetclassDoor } from './netclass/door.js';
import { splitRequests } from './netclass/requests.js';

/**
 * Exactly what seed 001's later client (client.py) writes: no path in the request line, the `\r\nn`
 * typos, GET/HEAD ending right after `Content-Length:0` (no line break, no blank line), and on
 * POST/PUT a Content-Length that counts the `\r\n\r\n` before the body (4 bytes too many).
 */
function seed(method: 'GET' | 'HEAD' | 'POST' | 'PUT', email = '', password = '', option?: string): string {
  const message =
    `${method} HTTP/1.1\r\nUser-Agent:python3(macOS)\r\nAccept:*/*\r\nAccept-Charset: utf-8\r\n` +
    'nCache-Control: no=cache\r\nnHost: 192.168.55.82\r\nConnection: keep-alive\r\nContent-Length:';
  if (method === 'GET' || method === 'HEAD') return `${message}0`;
  let user = `\r\n\r\nuser:${email},${password}`;
  if (option !== undefined) user += `,${option}`;
  return `${message}${user.length}${user}`;
}

/** The first client (README): path `/?`, no Accept-Charset, and the user line on every method. */
function firstClient(method: string, email: string, password: string): string {
  const user = `\r\n\r\nuser:${email},${password}`;
  return (
    `${method} /? HTTP/1.1\r\nUser-Agent:python3(macOS)\r\nAccept:*/*\r\nnCache-Control: no=cache\r\n` +
    `nHost: 192.168.55.82\r\nConnection: keep-alive\r\nContent-Length:${user.length}${user}`
  );
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const DATE =
  /\r\nDate: (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/;

/** The reply bytes with the Date value (checked for its format) replaced by `<now>`. */
function bytesOf(r: RawResponse | Buffer): string {
  const text = (Buffer.isBuffer(r) ? r : r.raw).toString('utf8');
  expect(text).toMatch(DATE);
  return text.replace(DATE, '\r\nDate: <now>\r\n');
}

function reply(status: string, body: string, o: { type?: string; headers?: string[]; close?: boolean } = {}) {
  return [
    `HTTP/1.1 ${status}`,
    `Content-Type: ${o.type ?? TEXT}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Date: <now>',
    ...(o.headers ?? []),
    `Connection: ${o.close ? 'close' : 'keep-alive'}`,
    '',
    body,
  ].join('\r\n');
}

/** Reads everything until the server closes the connection. */
function untilClosed(socket: net.Socket, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const t = setTimeout(() => reject(new Error('server did not close the connection')), timeoutMs);
    socket.on('data', (d) => parts.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(parts));
    });
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('seed 001 request framing', () => {
  it('splits bursts at request lines, including GETs glued after Content-Length:0', () => {
    expect(splitRequests(seed('GET') + seed('HEAD'))).toEqual([seed('GET'), seed('HEAD')]);
    expect(splitRequests('GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\nuser:a,b')).toEqual([
      'GET / HTTP/1.1\r\n\r\n',
      'POST / HTTP/1.1\r\n\r\nuser:a,b',
    ]);
    expect(splitRequests(seed('POST', 'a@b.c', 'GET HTTP/1.1', 'login'))).toHaveLength(1);
    expect(splitRequests('\r\n\r\n')).toEqual([]);
    expect(splitRequests('garbage\nHEAD HTTP/1.1')).toEqual(['garbage\n', 'HEAD HTTP/1.1']);
  });

  it('splits a hostile 64 KiB burst (a long run of digits after Content-Length) in linear time', () => {
    const hostile = `GET / HTTP/1.1\nContent-Length:${'9'.repeat(64_000)}`;
    const t0 = performance.now();
    expect(splitRequests(hostile)).toHaveLength(1);
    expect(splitRequests(`GET / HTTP/1.1\n${'1'.repeat(64_000)}`)).toHaveLength(1);
    // Quadratic scanning took seconds here; linear takes milliseconds even on a busy machine.
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe.each(await testDatabases())('seed 001 raw TCP front door (%s)', (db) => {
  let server: TestServer;
  let port: number;
  const open = () => RawConnection.open(port);

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_NETCLASS_PORT: '0',
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: 'boss-password-1',
      PLAZA_ADMIN_EMAIL: 'boss@corp.io',
    });
    port = server.netclassPort ?? 0;
  });
  afterAll(() => server.close());

  it('listens on its own port and says so in the banner', () => {
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(server.port);
    expect(server.banner).toContain(`Seed 001 TCP front door on 127.0.0.1:${port}`);
  });

  it('HEAD answers the status line and headers only', async () => {
    const c = await open();
    const r = await c.request(seed('HEAD'));
    expect(bytesOf(r)).toBe(reply('200 OK', '', { headers: ['X-Plaza-Status: ok'] }));
    c.close();
  });

  it('PUT creates a user (201); 400 with the reason for length ≤ 1 or a weak password; 409 when taken', async () => {
    const c = await open();
    expect(bytesOf(await c.request(seed('PUT', 'kim@corp.io', PASSWORD, '3')))).toBe(
      reply('201 Created', 'Success create user'),
    );
    const tooShort = reply('400 Bad Request', 'Bad Request: email and password must be longer than 1 character');
    expect(bytesOf(await c.request(seed('PUT', 'k', PASSWORD, '4')))).toBe(tooShort);
    expect(bytesOf(await c.request(seed('PUT', 'lee@corp.io', 'x', '4')))).toBe(tooShort);
    expect(bytesOf(await c.request(seed('PUT', 'lee@corp.io', 'abc', '4')))).toBe(
      reply('400 Bad Request', 'Bad Request: Password must be at least 8 characters'),
    );
    expect(bytesOf(await c.request(seed('PUT', 'kim@corp.io', PASSWORD, '5')))).toBe(
      reply('409 Conflict', 'EMAIL_TAKEN: Email is already registered'),
    );
    expect(bytesOf(await c.request('PUT HTTP/1.1\r\nContent-Length:9\r\n\r\nnothing'))).toBe(
      reply('400 Bad Request', 'Bad Request: send a line user:<email>,<password>'),
    );
    c.close();
  });

  it('POST logs in as admin or user and says which; a wrong password is 401 Unauthorized', async () => {
    const c = await open();
    expect(bytesOf(await c.request(seed('POST', 'boss@corp.io', 'boss-password-1', 'login')))).toBe(
      reply('200 OK', 'Success Login. you are admin'),
    );
    expect(bytesOf(await c.request(seed('POST', 'kim@corp.io', PASSWORD, 'login')))).toBe(
      reply('200 OK', 'Success Login. you are user'),
    );
    expect(bytesOf(await c.request(seed('POST', 'kim@corp.io', 'wrong-password', 'login')))).toBe(
      reply('401 Unauthorized', 'Unauthorized'),
    );
    expect(bytesOf(await c.request(seed('POST', 'nobody@corp.io', PASSWORD, 'login')))).toBe(
      reply('401 Unauthorized', 'Unauthorized'),
    );
    c.close();
  });

  it('GET returns user data by role (admin: all, user: self, nobody: 403) and never passwords', async () => {
    const anon = await open();
    expect(bytesOf(await anon.request(seed('GET')))).toBe(reply('403 Forbidden', 'Forbidden'));
    anon.close();

    const admin = await open();
    await admin.request(seed('POST', 'boss@corp.io', 'boss-password-1', 'login'));
    const all = await admin.request(seed('GET'));
    const allBody = all.body.toString();
    expect(bytesOf(all)).toBe(reply('200 OK', allBody, { type: JSON_TYPE }));
    const everyone = JSON.parse(allBody);
    expect(everyone.message).toBe(WELCOME);
    expect(everyone.role).toBe('admin');
    expect(everyone.users.map((u: { email: string }) => u.email)).toEqual(
      expect.arrayContaining(['boss@corp.io', 'kim@corp.io']),
    );
    expect(allBody).not.toMatch(/password|argon2|hash/i);
    admin.close();

    const user = await open();
    await user.request(seed('POST', 'kim@corp.io', PASSWORD, 'login'));
    const mine = await user.request(seed('GET'));
    expect(bytesOf(mine)).toBe(reply('200 OK', mine.body.toString(), { type: JSON_TYPE }));
    expect(JSON.parse(mine.body.toString())).toEqual({
      message: WELCOME,
      role: 'user',
      users: [{ id: expect.any(Number), username: 'kim', email: 'kim@corp.io', role: 'user', disabled: false }],
    });
    user.close();
  });

  it('login state belongs to the connection and ends with it', async () => {
    const a = await open();
    const b = await open();
    await a.request(seed('POST', 'kim@corp.io', PASSWORD, 'login'));
    expect((await a.request(seed('GET'))).status).toBe(200);
    expect(bytesOf(await b.request(seed('GET')))).toBe(reply('403 Forbidden', 'Forbidden'));
    // Logging in again on the same connection switches the user.
    await a.request(seed('POST', 'boss@corp.io', 'boss-password-1', 'login'));
    expect(JSON.parse((await a.request(seed('GET'))).body.toString()).role).toBe('admin');

    // The session lives in the database with this door's context, and is ended with the connection.
    expect((await b.request(seed('PUT', 'solo@corp.io', PASSWORD, '7'))).status).toBe(201);
    const solo = (await server.core.users.findByUsername('solo'))!;
    const sessions = () => server.core.accounts.listSessions({ user: solo, sessionId: '', via: 'connection' });
    expect(await sessions()).toHaveLength(0);
    await b.request(seed('POST', 'solo@corp.io', PASSWORD, 'login'));
    expect(await sessions()).toMatchObject([{ kind: 'cookie', userAgent: 'seed-001-tcp', ip: '127.0.0.1' }]);
    b.close();
    for (let i = 0; i < 100 && (await sessions()).length > 0; i++) await sleep(20);
    expect(await sessions()).toHaveLength(0);
    a.close();
  });

  it("the later client's ,signup registers; the first client's POST /? (no option) logs in", async () => {
    const c = await open();
    expect(bytesOf(await c.request(seed('POST', 'new@corp.io', PASSWORD, 'signup')))).toBe(
      reply('201 Created', 'Success create user'),
    );
    expect(bytesOf(await c.request(firstClient('POST', 'new@corp.io', PASSWORD)))).toBe(
      reply('200 OK', 'Success Login. you are user'),
    );
    // The first client sends its user line on GET too; GET ignores it.
    const get = await c.request(firstClient('GET', 'new@corp.io', PASSWORD));
    expect(JSON.parse(get.body.toString()).users[0].email).toBe('new@corp.io');
    c.close();
  });

  it('commas inside passwords stay in the password', async () => {
    const c = await open();
    expect((await c.request(seed('PUT', 'comma@corp.io', 'pa,ss,word-1', '9'))).status).toBe(201);
    expect(bytesOf(await c.request(seed('POST', 'comma@corp.io', 'pa,ss,word-1', 'login')))).toBe(
      reply('200 OK', 'Success Login. you are user'),
    );
    expect((await c.request(seed('POST', 'comma@corp.io', 'pa', 'login'))).status).toBe(401);
    c.close();
  });

  it('a request split across two writes is one request', async () => {
    const c = await open();
    const whole = seed('POST', 'kim@corp.io', PASSWORD, 'login');
    c.write(whole.slice(0, 40));
    await sleep(5);
    c.write(whole.slice(40));
    expect(bytesOf(await c.read())).toBe(reply('200 OK', 'Success Login. you are user'));
    c.close();
  });

  it('several requests in one write are answered in order', async () => {
    const c = await open();
    // Glued the way the client's bytes would be (GET ends without a line break), then proper lines.
    c.write(seed('GET') + seed('HEAD') + 'GET / HTTP/1.1\r\n\r\n');
    expect(bytesOf(await c.read())).toBe(reply('403 Forbidden', 'Forbidden'));
    expect(bytesOf(await c.read())).toBe(reply('200 OK', '', { headers: ['X-Plaza-Status: ok'] }));
    expect(bytesOf(await c.read())).toBe(reply('403 Forbidden', 'Forbidden'));
    // A login and a GET in one write: the GET already counts as logged in.
    c.write(`${seed('POST', 'kim@corp.io', PASSWORD, 'login')}\r\n${seed('GET')}`);
    expect(bytesOf(await c.read())).toBe(reply('200 OK', 'Success Login. you are user'));
    expect((await c.read()).status).toBe(200);
    c.close();
  });

  it('garbage and binary get 400, unknown methods 405, and the connection keeps working', async () => {
    const c = await open();
    const bad = reply('400 Bad Request', 'Bad Request: expected a request line such as "GET / HTTP/1.1"');
    expect(bytesOf(await c.request('hello there\r\n'))).toBe(bad);
    expect(bytesOf(await c.request(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0xfe, 0x80])))).toBe(bad);
    expect(bytesOf(await c.request('DELETE HTTP/1.1\r\nContent-Length:0'))).toBe(
      reply('405 Method Not Allowed', 'Method Not Allowed: seed 001 speaks GET, HEAD, POST, PUT', {
        headers: ['Allow: GET, HEAD, POST, PUT'],
      }),
    );
    expect(bytesOf(await c.request('POST HTTP/1.1\r\nContent-Length:4'))).toBe(
      reply('400 Bad Request', 'Bad Request: send a line user:<email>,<password>'),
    );
    expect((await c.request(seed('HEAD'))).status).toBe(200);
    c.close();
  });

  it('a 1 MiB line gets 413 and the connection is closed; other clients are unaffected', async () => {
    const other = await open();
    const s = await connect(port);
    const got = untilClosed(s);
    s.write(`POST HTTP/1.1\r\nContent-Length:4\r\n\r\nuser:a@b.c,${'x'.repeat(1024 * 1024)}`);
    expect(bytesOf(await got)).toBe(
      reply('413 Payload Too Large', 'Payload Too Large: a request may be at most 65536 bytes', { close: true }),
    );
    expect((await other.request(seed('HEAD'))).status).toBe(200);
    other.close();
  });

  it('clients vanishing mid-request do not disturb the server or other clients', async () => {
    const b = await open();
    const half = await connect(port);
    half.write(seed('POST', 'kim@corp.io', PASSWORD, 'login').slice(0, 30));
    half.destroy();
    // Gone while its login (argon2 + database) is in flight.
    const inFlight = await connect(port);
    inFlight.write(seed('POST', 'kim@corp.io', PASSWORD, 'login'));
    await sleep(45);
    inFlight.destroy();
    const reset = await connect(port);
    reset.resetAndDestroy();

    expect(bytesOf(await b.request(seed('POST', 'kim@corp.io', PASSWORD, 'login')))).toBe(
      reply('200 OK', 'Success Login. you are user'),
    );
    expect((await b.request(seed('GET'))).status).toBe(200);
    b.close();
  });

  it('a client that half-closes after writing still gets its answer, then the close', async () => {
    const s = await connect(port);
    const got = untilClosed(s);
    s.end(seed('GET'));
    expect(bytesOf(await got)).toBe(reply('403 Forbidden', 'Forbidden'));
  });

  it('serves 50 clients at once, each with its own login', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const c = await open();
        const email = `load${i}@corp.io`;
        const put = await c.request(seed('PUT', email, PASSWORD, String(i)));
        const post = await c.request(seed('POST', email, PASSWORD, 'login'));
        const get = await c.request(seed('GET'));
        c.close();
        return { put: put.status, post: post.body.toString(), users: JSON.parse(get.body.toString()).users };
      }),
    );
    results.forEach((r, i) => {
      expect(r.put).toBe(201);
      expect(r.post).toBe('Success Login. you are user');
      expect(r.users.map((u: { email: string }) => u.email)).toEqual([`load${i}@corp.io`]);
    });
  });
});

describe('seed 001 TCP door limits (sqlite)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server.close());

  it('is off unless PLAZA_NETCLASS_PORT is set', () => {
    expect(server.netclassPort).toBeUndefined();
    expect(server.banner.join('\n')).not.toMatch(/TCP front door/);
  });

  it('answers at most 100 requests from one burst (then 429 and close); other clients are unaffected', async () => {
    const door = await startNetclassDoor(server.core, { host: '127.0.0.1', port: 0 });
    try {
      const flood = await connect(door.port);
      const closed = untilClosed(flood);
      flood.write('HEAD HTTP/1.1\r\n'.repeat(150));
      const got = bytesOf(await closed);
      expect(got).toContain('HTTP/1.1 429 Too Many Requests');
      expect(got).not.toContain('HTTP/1.1 200 OK');

      const other = await connect(door.port);
      const answered = untilClosed(other);
      other.end('HEAD HTTP/1.1\r\n');
      expect(bytesOf(await answered)).toContain('HTTP/1.1 200 OK');
    } finally {
      await door.close();
    }
  }, 30_000);

  it("logs the server's conditions as warnings, not faults: a GET while the database is down is a 503", async () => {
    const errors: string[] = [];
    const warnings: string[] = [];
    const door = await startNetclassDoor(server.core, {
      host: '127.0.0.1',
      port: 0,
      log: (_obj, msg) => errors.push(msg),
      warn: (obj, msg) => warnings.push(`${msg} ${String((obj as { code?: unknown }).code ?? '')}`),
    });
    const accounts = server.core.accounts;
    const { authenticateSession } = accounts;
    try {
      const c = await RawConnection.open(door.port);
      expect((await c.request(seed('PUT', 'down@corp.io', PASSWORD, '1'))).status).toBe(201);
      expect((await c.request(seed('POST', 'down@corp.io', PASSWORD, 'login'))).status).toBe(200);
      // What PostgreSQL raises when it goes away under a query.
      accounts.authenticateSession = async () => {
        throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
      };
      expect((await c.request(seed('GET'))).status).toBe(503);
      c.close();
    } finally {
      accounts.authenticateSession = authenticateSession;
      await door.close();
    }
    expect(errors).toEqual([]);
    expect(warnings).toEqual(['seed 001 TCP request failed DATABASE_UNAVAILABLE']);
  });

  it('closes idle connections, refuses connections beyond the limit, and close() ends open sockets', async () => {
    const door = await startNetclassDoor(server.core, {
      host: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 300,
      maxConnections: 2,
    });
    try {
      const idle = await connect(door.port);
      const t0 = Date.now();
      expect((await untilClosed(idle)).length).toBe(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);

      const a = await connect(door.port);
      const b = await connect(door.port);
      const third = await connect(door.port);
      expect(bytesOf(await untilClosed(third))).toBe(
        reply('503 Service Unavailable', 'Service Unavailable: too many connections', { close: true }),
      );
      const aClosed = untilClosed(a);
      const bClosed = untilClosed(b);
      await door.close();
      expect((await aClosed).length + (await bClosed).length).toBe(0);
    } finally {
      await door.close();
    }
  });
});
