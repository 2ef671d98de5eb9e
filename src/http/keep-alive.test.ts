import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConnection, seed000Request } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Issue 20 #1: idle keep-alive connections must not hold the connection caps against active
 * clients. The general keep-alive is short; only a connection carrying a seed connection-login
 * keeps the long one. At a cap the longest-idle keep-alive connection of that scope makes room.
 */

const HEALTH = 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n';

/** A keep-alive connection that has been answered once and is now idle. */
async function idle(port: number, localAddress: string) {
  const conn = await RawConnection.open(port, '127.0.0.1', localAddress);
  expect((await conn.request(HEALTH)).status).toBe(200);
  return conn;
}

/** A connection with a request in flight (headers in, body awaited), proven by Node's `100 Continue`. */
async function busy(port: number, localAddress: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n');
  const [first] = (await once(socket, 'data')) as [Buffer];
  expect(first.toString('latin1')).toMatch(/^HTTP\/1.1 100 Continue/);
  return socket;
}

/** Resolves with when the connection was closed by the server. */
function closedAt(conn: RawConnection): Promise<number> {
  const socket = (conn as unknown as { socket: net.Socket }).socket;
  return new Promise((resolve) => socket.once('close', () => resolve(Date.now())));
}

async function waitFor(pred: () => boolean, timeoutMs = 3000) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('connection caps and idle keep-alive connections', () => {
  let server: TestServer;
  const cleanup: (RawConnection | net.Socket)[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_MAX_CONNECTIONS: '6', PLAZA_MAX_CONNECTIONS_PER_IP: '3' });
  });
  afterAll(async () => {
    for (const c of cleanup) {
      if (c instanceof RawConnection) c.close();
      else c.destroy();
    }
    await server.close();
  });

  it('an address at its cap with idle connections: the newcomer is served, its longest-idle one is closed', async () => {
    const [a, b, c] = [await idle(server.port, '127.0.0.1'), await idle(server.port, '127.0.0.1'), await idle(server.port, '127.0.0.1')];
    cleanup.push(a, b, c);
    // b was used last: a is now the longest idle, then c.
    expect((await b.request(HEALTH)).status).toBe(200);
    const newcomer = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.1');
    cleanup.push(newcomer);
    expect((await newcomer.request(HEALTH)).status).toBe(200);
    await waitFor(() => a.closed);
    expect((await b.request(HEALTH)).status).toBe(200);
    expect((await c.request(HEALTH)).status).toBe(200);
    for (const x of [b, c, newcomer]) x.close();
  });

  it('at the global cap with idle connections: a newcomer from another address is served, the longest-idle is closed', async () => {
    const first = await idle(server.port, '127.0.0.2');
    const rest = [await idle(server.port, '127.0.0.2'), await idle(server.port, '127.0.0.3'), await idle(server.port, '127.0.0.3')];
    const others = [await idle(server.port, '127.0.0.4'), await idle(server.port, '127.0.0.4')];
    cleanup.push(first, ...rest, ...others);
    const newcomer = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.5');
    cleanup.push(newcomer);
    expect((await newcomer.request(HEALTH)).status).toBe(200);
    await waitFor(() => first.closed);
    for (const x of [...rest, ...others]) expect((await x.request(HEALTH)).status).toBe(200);
    for (const x of [...rest, ...others, newcomer]) x.close();
  });

  it('a connection whose next request has begun is not idle: the next-longest-idle one is closed instead', async () => {
    const a = await idle(server.port, '127.0.0.11');
    const [b, c] = [await idle(server.port, '127.0.0.11'), await idle(server.port, '127.0.0.11')];
    cleanup.push(a, b, c);
    // a, the longest idle, starts its next request: headers on the way, not yet complete.
    a.write('GET /api/health HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const newcomer = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.11');
    cleanup.push(newcomer);
    expect((await newcomer.request(HEALTH)).status).toBe(200);
    await waitFor(() => b.closed);
    expect((await a.request('\r\n')).status).toBe(200);
    expect((await c.request(HEALTH)).status).toBe(200);
    for (const x of [a, c, newcomer]) x.close();
  });

  it('a connection carrying a seed login goes last: the longest-idle plain one is closed instead', async () => {
    const creds = { username: 'seedkept', password: 'seedkept-password-1' };
    const seed = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.12');
    cleanup.push(seed);
    expect((await seed.request(seed000Request('POST', '/register', creds))).status).toBe(200);
    expect((await seed.request(seed000Request('POST', '/login', creds))).status).toBe(200);
    const [b, c] = [await idle(server.port, '127.0.0.12'), await idle(server.port, '127.0.0.12')];
    cleanup.push(b, c);
    const newcomer = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.12');
    cleanup.push(newcomer);
    expect((await newcomer.request(HEALTH)).status).toBe(200);
    await waitFor(() => b.closed);
    expect(seed.closed).toBe(false);
    expect((await seed.request(seed000Request('PUT', '/privilege', { username: 'seedkept' }))).status).toBe(200);
    for (const x of [seed, c, newcomer]) x.close();
  });

  it('an address at its cap with requests in flight: the newcomer is refused with 503 as before', async () => {
    const held = await Promise.all([1, 2, 3].map(() => busy(server.port, '127.0.0.6')));
    cleanup.push(...held);
    const over = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.6');
    cleanup.push(over);
    const answer = await over.request(HEALTH);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString()).error.code).toBe('TOO_MANY_CONNECTIONS');
    expect(held.every((s) => !s.destroyed)).toBe(true);
    for (const s of held) s.destroy();
  });

  it('at the global cap with every connection busy, a newcomer is refused with 503', async () => {
    const held = await Promise.all(['127.0.0.7', '127.0.0.7', '127.0.0.8', '127.0.0.8', '127.0.0.9', '127.0.0.9'].map((a) => busy(server.port, a)));
    cleanup.push(...held);
    const over = await RawConnection.open(server.port, '127.0.0.1', '127.0.0.10');
    cleanup.push(over);
    const answer = await over.request(HEALTH);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body.toString()).error.message).toMatch(/server/);
    for (const s of held) s.destroy();
  });
});

describe('keep-alive: short for everyone, long for a seed connection-login', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_KEEP_ALIVE_SECONDS: '1', PLAZA_SEED_KEEP_ALIVE_SECONDS: '3' });
  });
  afterAll(() => server.close());

  it('an idle plain connection closes after PLAZA_KEEP_ALIVE_SECONDS, a logged-in seed 000 one after PLAZA_SEED_KEEP_ALIVE_SECONDS', async () => {
    const creds = { username: 'keeper', password: 'keeper-password-1' };
    const seed = await RawConnection.open(server.port);
    expect((await seed.request(seed000Request('POST', '/register', creds))).status).toBe(200);
    expect((await seed.request(seed000Request('POST', '/login', creds))).status).toBe(200);
    const seedIdle = Date.now();
    const seedClosed = closedAt(seed);
    const plain = await idle(server.port, '127.0.0.1');
    const plainIdle = Date.now();
    const plainClosed = closedAt(plain);

    // Node adds a second to the advertised keep-alive before it closes.
    const plainAfter = (await plainClosed) - plainIdle;
    expect(plainAfter).toBeGreaterThanOrEqual(900);
    expect(plainAfter).toBeLessThan(2800);
    expect(seed.closed).toBe(false);
    const seedAfter = (await seedClosed) - seedIdle;
    expect(seedAfter).toBeGreaterThanOrEqual(2900);
    expect(seedAfter).toBeLessThan(5000);
  });
});
