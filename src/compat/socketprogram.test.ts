import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadMultipart } from '../../test/helpers/files.js';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const CLIENT = path.resolve('test/seed-clients/seed000_client.py');

function runProcess(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.each(await testDatabases())('seed 000 (SocketProgram) over one raw keep-alive socket on %s', (db) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(db);
  });
  afterAll(() => server.close());

  it('register → login → privilege → HEAD /images on the same connection, with exact replies', async () => {
    const c = await RawConnection.open(server.port);
    const creds = { username: 'sihaun', password: PASSWORD };

    const reg = await c.request(seed000Request('POST', '/register', creds));
    expect(reg.statusLine).toBe('HTTP/1.1 200 OK');
    expect(reg.body.toString()).toBe('REGISTER_SUCCESS');
    expect(Number(reg.headers['content-length'])).toBe(reg.body.length);

    const again = await c.request(seed000Request('POST', '/register', creds));
    expect(again.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(again.body.toString()).toBe('REGISTER_FAILED: User already exists');

    const bad = await c.request(seed000Request('POST', '/login', { ...creds, password: 'wrong-password' }));
    expect(bad.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect(bad.body.toString()).toBe('LOGIN_FAILED');

    // Before a login on this connection, elevation is refused.
    const early = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(early.status).toBe(401);

    const login = await c.request(seed000Request('POST', '/login', creds));
    expect(login.statusLine).toBe('HTTP/1.1 200 OK');
    expect(login.body.toString()).toBe('LOGIN_SUCCESS');

    // The client never sends its cookie: the login on this connection counts.
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(priv.statusLine).toBe('HTTP/1.1 200 OK');
    expect(priv.body.toString()).toBe('PRIVILEGE_CHANGED');
    // The client matches `Set-Cookie:` case-sensitively and splits on "; " into exactly two parts.
    const setCookie = priv.headerLines.filter((l) => l.toLowerCase().startsWith('set-cookie:'));
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^Set-Cookie: key=[0-9a-f]{64}; Max-Age=3600$/);
    const key = setCookie[0]?.slice('Set-Cookie: key='.length, 'Set-Cookie: key='.length + 64);
    // No other reply of the session has a line the client would try to split.
    for (const r of [reg, again, bad, early, login]) {
      expect(r.headerLines.filter((l) => l.startsWith('Set-Cookie:'))).toEqual([]);
    }

    const twice = await c.request(seed000Request('PUT', '/privilege', { username: 'sihaun' }));
    expect(twice.statusLine).toBe('HTTP/1.1 409 Conflict');
    expect(twice.body.toString()).toBe('PRIVILEGE_ALREADY_CHANGED');

    // The seed client sends the key back as a Set-Cookie *request* header, with a JSON body on HEAD.
    const head = await c.request(
      seed000Request('HEAD', '/images', { username: 'sihaun' }, [`Set-Cookie: key=${key}; Max-Age=3600`]),
      {
        head: true,
      },
    );
    expect(head.statusLine).toBe('HTTP/1.1 200 OK');
    const noKey = await c.request(seed000Request('HEAD', '/images', { username: 'sihaun' }), { head: true });
    expect(noKey.statusLine).toBe('HTTP/1.1 401 Unauthorized');
    const cookieKey = await c.request(seed000Request('HEAD', '/images', {}, [`Cookie: key=${key}`]), { head: true });
    expect(cookieKey.status).toBe(200);
    const wrongUser = await c.request(
      seed000Request('HEAD', '/images', { username: 'someone' }, [`Cookie: key=${key}`]),
      {
        head: true,
      },
    );
    expect(wrongUser.status).toBe(401);
    for (const r of [twice, head, noKey, cookieKey, wrongUser]) {
      expect(r.headerLines.filter((l) => l.startsWith('Set-Cookie:'))).toEqual([]);
    }
    expect(c.closed).toBe(false);
    c.close();
  });

  it("the seed's own client (its literal reads and cookie parsing) elevates and downloads whole images", async () => {
    const t = await registerAndLogin(server.url, 'pyclient');
    const work = mkdtempSync(path.join(tmpdir(), 'seed000-'));
    try {
      // Noise does not compress: a ~85 KB PNG (the attack run's image was 85,707 bytes) and a tiny one.
      // Far larger replies outgrow the socket buffers, and a reader that stops at its first short
      // read cannot get them whole from any server (the original's sendall included).
      const images = await Promise.all(
        [[165, 173], [8, 8]].map(async ([w = 0, h = 0], i) => ({
          name: `photo${i}.png`,
          data: await sharp(randomBytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(),
        })),
      );
      expect(images[0]?.data.length).toBeGreaterThan(80_000);
      expect((await uploadMultipart(server.url, t.accessToken, images)).status).toBe(201);
      for (const img of images) {
        // The server runs in this process: the client must run beside it, not block it.
        const run = await runProcess('python3', [CLIENT, '127.0.0.1', String(server.port), 'pyclient', PASSWORD, img.name, work]);
        expect(run.stderr).toBe('');
        expect(run.status).toBe(0);
        const steps = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { step: string; status: string; body: string; saved?: number });
        const byName = Object.fromEntries(steps.map((s) => [s.step, s]));
        expect(byName.login).toMatchObject({ status: 'HTTP/1.1 200 OK', body: 'LOGIN_SUCCESS' });
        // The first run elevates; the second finds the key still valid (409) and keeps the stored one.
        expect(byName.privilege?.status).toMatch(/^HTTP\/1\.1 (200 OK|409 Conflict)$/);
        expect(byName.check?.status).toBe('HTTP/1.1 200 OK');
        expect(byName.image).toMatchObject({ status: 'HTTP/1.1 200 OK', saved: img.data.length });
        expect(readFileSync(path.join(work, 'web_cash', img.name)).equals(img.data)).toBe(true);
        expect(JSON.parse(readFileSync(path.join(work, 'cookies.json'), 'utf8')).key).toMatch(/^[0-9a-f]{64}$/);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  /**
   * The server's side of each new connection, by the client's port, with what it hands the
   * operating system write by write (Node's socket writes, observed, not replaced): a one-write
   * reply is a single write of headers and body.
   */
  function recordConnections() {
    const sockets = new Map<number, { socket: Socket; writes: number[] }>();
    const listener = (socket: Socket) => {
      const writes: number[] = [];
      sockets.set(socket.remotePort ?? 0, { socket, writes });
      const s = socket as any;
      const write = s._write.bind(socket);
      const writev = s._writev.bind(socket);
      s._write = (chunk: any, encoding: BufferEncoding, cb: () => void) => {
        writes.push(Buffer.byteLength(chunk, encoding));
        return write(chunk, encoding, cb);
      };
      s._writev = (chunks: Array<{ chunk: any; encoding: BufferEncoding }>, cb: () => void) => {
        writes.push(chunks.reduce((n, c) => n + Buffer.byteLength(c.chunk, c.encoding), 0));
        return writev(chunks, cb);
      };
    };
    /** How each reply's body began to leave Plaza: `end` with all of it (one write), or `write` (streamed). */
    const replies: Array<'one write' | 'streamed'> = [];
    let waiting: { count: number; resolve: () => void } | undefined;
    const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
      const r = res as any;
      const write = r.write.bind(res);
      const end = r.end.bind(res);
      let begun = false;
      const begin = (how: 'one write' | 'streamed') => {
        if (begun) return;
        begun = true;
        replies.push(how);
        if (waiting && replies.length >= waiting.count) waiting.resolve();
      };
      r.write = (...args: any[]) => {
        begin('streamed');
        return write(...args);
      };
      r.end = (...args: any[]) => {
        begin(Buffer.isBuffer(args[0]) && args[0].length > 0 ? 'one write' : 'streamed');
        return end(...args);
      };
    };
    server.app.server.on('connection', listener);
    server.app.server.on('request', onRequest);
    return {
      sockets,
      replies,
      /** Resolves once `count` replies (counted from now) have begun. */
      repliesBegun(count: number): Promise<void> {
        replies.length = 0;
        return new Promise((resolve) => (waiting = { count, resolve }));
      },
      stop() {
        server.app.server.off('connection', listener);
        server.app.server.off('request', onRequest);
      },
    };
  }

  it('images up to 256 KiB go out in one write while at most 32 MiB of such replies are held; past either, they are streamed', async () => {
    const user = 'budget000';
    await registerAndLogin(server.url, user);
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: user, password: PASSWORD }));
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: user }));
    c.close();
    const key = priv.headerLines.find((l) => l.startsWith('Set-Cookie: key='))?.slice('Set-Cookie: key='.length, 'Set-Cookie: key='.length + 64);
    const t = await api(server.url, 'POST', '/api/auth/login', { json: { identifier: user, password: PASSWORD } });
    // Noise does not compress: PNGs of about 250 KiB and 300 KiB.
    const png = (w: number, h: number) => sharp(randomBytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const [small, large] = [await png(290, 290), await png(320, 320)];
    expect(small.length).toBeLessThanOrEqual(256 * 1024);
    expect(large.length).toBeGreaterThan(256 * 1024);
    const uploaded = await uploadMultipart(server.url, t.body.accessToken, [{ name: 'small.png', data: small }, { name: 'large.png', data: large }]);
    expect(uploaded.status).toBe(201);
    const get = (name: string) => seed000Request('GET', '/images', { url: name }, [`Cookie: key=${key}`]);

    const recorder = recordConnections();
    const serverSide = (conn: RawConnection) => recorder.sockets.get(conn.localPort);
    /** Downloads `name` on a connection of its own; true when the reply left in one write. */
    async function inOneWrite(name: string, data: Buffer) {
      const conn = await RawConnection.open(server.port);
      try {
        const r = await conn.request(get(name));
        expect([r.status, r.body.equals(data)]).toEqual([200, true]);
        return (serverSide(conn)?.writes[0] ?? 0) >= data.length;
      } finally {
        conn.close();
      }
    }
    let hog: Socket | undefined;
    try {
      expect(await inOneWrite('small.png', small)).toBe(true);
      expect(await inOneWrite('large.png', large)).toBe(false);
      // A missing image is the other way round: its headers and its body leave in two writes (the
      // seed client reads a 404 in two reads).
      const conn = await RawConnection.open(server.port);
      try {
        const nf = await conn.request(get('missing.png'));
        expect([nf.status, nf.body.toString()]).toEqual([404, 'Image not found']);
        const writes = serverSide(conn)?.writes ?? [];
        expect(writes).toHaveLength(2);
        expect(writes[0]).toBe(nf.raw.length - nf.body.length);
        expect(writes[1]).toBe(nf.body.length);
      } finally {
        conn.close();
      }

      // A connection that reads nothing (a socket without a reader stops at its 16 KiB buffer)
      // asks at once (pipelined) for 20 streamed images, more than the operating system takes
      // (about 4 MiB a connection), then for 140 small ones: those wait in Plaza's memory.
      hog = net.connect(server.port, '127.0.0.1');
      await once(hog, 'connect');
      const begun = recorder.repliesBegun(160);
      hog.write(get('large.png').repeat(20) + get('small.png').repeat(140));
      await begun;
      // The large ones are streamed and take no budget; of the small ones, as many as fit in 32 MiB went out whole.
      const held = Math.floor((32 * 1024 * 1024) / small.length);
      expect(held).toBeLessThan(140);
      expect(recorder.replies.filter((how) => how === 'one write')).toHaveLength(held);
      // With the budget spent, another client's small image is streamed too.
      expect(await inOneWrite('small.png', small)).toBe(false);

      // When that connection closes, its replies give their bytes back (Node never closes the ones still queued).
      // (Not events.once: the server's side fails with ECONNRESET before it closes.)
      const serverSocket = recorder.sockets.get(hog.localPort ?? 0)?.socket;
      const closed = new Promise((resolve) => serverSocket?.once('close', resolve));
      expect(serverSocket).toBeDefined();
      hog.destroy();
      await closed;
      expect(await inOneWrite('small.png', small)).toBe(true);
    } finally {
      hog?.destroy();
      recorder.stop();
    }
  });

  it("keeps a logged-in connection open for 15 minutes by default: the client holds one for a user's whole session", () => {
    // Plain connections close after PLAZA_KEEP_ALIVE_SECONDS; one carrying a seed login after this
    // (the idle close itself is exercised in http/keep-alive.test.ts).
    expect(server.core.config.connections.seedKeepAliveSeconds).toBe(900);
    expect(server.app.server.keepAliveTimeout).toBe(server.core.config.connections.keepAliveSeconds * 1000);
  });

  it('POST /privilege works too; elevation for another user (body username ≠ login) is refused', async () => {
    await registerAndLogin(server.url, 'mallory');
    await registerAndLogin(server.url, 'bobby');
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'mallory', password: PASSWORD }));
    const other = await c.request(seed000Request('POST', '/privilege', { username: 'bobby' }));
    expect(other.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(other.body.toString()).toMatch(/^PRIVILEGE_FAILED/);
    const own = await c.request(seed000Request('POST', '/privilege', { username: 'mallory' }));
    expect(own.body.toString()).toBe('PRIVILEGE_CHANGED');
    c.close();
  });

  it('a login on one connection does not leak to another connection', async () => {
    await registerAndLogin(server.url, 'conn-a');
    const a = await RawConnection.open(server.port);
    const b = await RawConnection.open(server.port);
    await a.request(seed000Request('POST', '/login', { username: 'conn-a', password: PASSWORD }));
    const fromB = await b.request(seed000Request('PUT', '/privilege', { username: 'conn-a' }));
    expect(fromB.status).toBe(401);
    a.close();
    b.close();
  });

  it('privilege also accepts a session cookie or a bearer token', async () => {
    const t = await registerAndLogin(server.url, 'bearer000');
    const r = await api(server.url, 'PUT', '/privilege', { token: t.accessToken, body: '{"username":"bearer000"}' });
    expect(r.status).toBe(200);
    expect(r.text).toBe('PRIVILEGE_CHANGED');
  });

  it('a password change ends the connection login', async () => {
    const t = await registerAndLogin(server.url, 'revoked000');
    const c = await RawConnection.open(server.port);
    await c.request(seed000Request('POST', '/login', { username: 'revoked000', password: PASSWORD }));
    await api(server.url, 'PATCH', '/api/users/me', {
      token: t.accessToken,
      json: { password: 'another-pass-1', currentPassword: PASSWORD },
    });
    const priv = await c.request(seed000Request('PUT', '/privilege', { username: 'revoked000' }));
    expect(priv.status).toBe(401);
    c.close();
  });

  it('bad input: malformed JSON, wrong types, garbage — seed-format errors, connection stays usable', async () => {
    const c = await RawConnection.open(server.port);
    const broken = '{"username": "x"';
    const r1 = await c.request(
      `POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${broken.length}\r\n\r\n${broken}`,
    );
    expect(r1.status).toBe(400);
    expect(r1.body.toString()).toMatch(/^REGISTER_FAILED/);
    const r2 = await c.request(seed000Request('POST', '/register', { username: 12, password: ['x'] }));
    expect(r2.status).toBe(400);
    const r3 = await c.request(seed000Request('POST', '/login', { username: 'a' }));
    expect(r3.body.toString()).toBe('LOGIN_FAILED');
    const r4 = await c.request(seed000Request('POST', '/register', { username: 'ok-name', password: 'short' }));
    expect(r4.body.toString()).toMatch(/^REGISTER_FAILED: Password must be at least 8/);
    const r5 = await c.request(seed000Request('HEAD', '/images', 'not an object'), { head: true });
    expect(r5.status).toBe(400);
    const r6 = await c.request(seed000Request('GET', '/health', {}));
    expect(r6.body.toString()).toBe('{"status":"healthy"}');
    c.close();
    const g = await RawConnection.open(server.port);
    g.write('\x00\x01garbage\r\n\r\n');
    const reply = await g.read().catch(() => undefined);
    expect(reply === undefined || reply.status === 400).toBe(true);
    g.close();
    expect((await api(server.url, 'GET', '/health')).status).toBe(200);
  });
});
