import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

type Login = Awaited<ReturnType<typeof registerAndLogin>>;

/** Bad frames, floods, abrupt disconnects and slow readers: error frames or close codes, never a crash. */
describe('native chat under bad input', () => {
  let server: TestServer;
  let base: string;
  let ann: Awaited<ReturnType<typeof registerAndLogin>>;
  let bob: Awaited<ReturnType<typeof registerAndLogin>>;
  let room: number;
  const open: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.open(base, { token });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      PLAZA_CHAT_FRAMES_PER_10S: '100',
      PLAZA_CHAT_MAX_BUFFERED_BYTES: '65536',
    });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
    const a = await connect(ann.accessToken);
    room = (await a.request({ type: 'create', name: 'lobby' })).room.id;
    const b = await connect(bob.accessToken);
    await b.request({ type: 'join', room });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  /** The server still answers: a fresh client can send and another receives it. */
  async function stillHealthy() {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const ack = await a.request({ type: 'send', room, body: 'still here' });
    expect(ack.type).toBe('ack');
    expect((await b.next((f) => f.type === 'message' && f.id === ack.id)).body).toBe('still here');
  }

  it('answers malformed, unknown, incomplete and mistyped frames with precise error frames', async () => {
    const a = await connect(ann.accessToken);
    const cases: Array<[unknown, string, RegExp]> = [
      ['not json at all', 'INVALID_JSON', /JSON objects/],
      ['[1,2,3]', 'VALIDATION_FAILED', /JSON objects/],
      [{ type: 'teleport' }, 'VALIDATION_FAILED', /Unknown frame type "teleport"/],
      [{ body: 'no type' }, 'VALIDATION_FAILED', /Unknown frame type/],
      [{ type: 'send', body: 'where to?' }, 'VALIDATION_FAILED', /either "room" or "user"/],
      [{ type: 'send', room, body: 'x', user: 'bob' }, 'VALIDATION_FAILED', /either "room" or "user"/],
      [{ type: 'send', room }, 'VALIDATION_FAILED', /need "body"/],
      [{ type: 'send', room: 'lobby', body: 'x' }, 'VALIDATION_FAILED', /"room" must be a whole number/],
      [{ type: 'send', room: -1, body: 'x' }, 'VALIDATION_FAILED', /"room" must be a whole number/],
      [{ type: 'send', room, body: 42 }, 'VALIDATION_FAILED', /"body" must be a string/],
      [{ type: 'send', room, body: '   ' }, 'VALIDATION_FAILED', /needs some text/],
      [{ type: 'send', room, body: 'x', clientId: 'bad id!' }, 'VALIDATION_FAILED', /clientId/],
      [{ type: 'send', room, body: 'x', extra: true }, 'VALIDATION_FAILED', /no field "extra"/],
      [{ type: 'history', room: 999999 }, 'NOT_FOUND', /No such room/],
      [{ type: 'resume', rooms: 'all' }, 'VALIDATION_FAILED', /list of/],
      [{ type: 'resume', rooms: [{ room }] }, 'VALIDATION_FAILED', /"after"/],
      [{ type: 'create', name: '../etc' }, 'VALIDATION_FAILED', /Room names/],
      [{ type: 'create', name: 'lobby' }, 'ROOM_EXISTS', /already exists/],
    ];
    for (const [frame, code, message] of cases) {
      a.send(frame);
      const err = await a.next((f) => f.type === 'error');
      expect({ frame, code: err.code }).toEqual({ frame, code });
      expect(err.message).toMatch(message);
    }
    a.ws.send(Buffer.from([0, 1, 2, 3]), { binary: true });
    expect(await a.next((f) => f.type === 'error')).toMatchObject({ code: 'BAD_REQUEST', message: /not binary/ });
    expect(await a.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('refuses sends to rooms one is not in', async () => {
    const c = await registerAndLogin(base, 'cat');
    const cc = await connect(c.accessToken);
    expect(await cc.request({ type: 'send', room, body: 'hi' })).toMatchObject({ type: 'error', code: 'NOT_MEMBER' });
    const hist = await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken });
    expect(hist.body.messages.map((m: any) => m.body)).not.toContain('hi');
  });

  it('closes a connection that sends a frame over 64 KiB (1009) and keeps serving others', async () => {
    const a = await connect(ann.accessToken);
    a.send(JSON.stringify({ type: 'send', room, body: 'x'.repeat(70 * 1024) }));
    expect((await a.waitClosed()).code).toBe(1009);
    await stillHealthy();
  });

  it('rate-limits a burst of 1,000 sends from one client; others are unaffected', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    for (let i = 0; i < 1000; i++) a.send({ type: 'send', room, body: `burst ${i}`, ref: `b${i}` });
    await a.next((f) => f.ref === 'b99' && f.type === 'ack', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const acks = a.frames.filter((f) => f.type === 'ack').length + 1;
    const limited = a.frames.filter((f) => f.type === 'error' && f.code === 'RATE_LIMITED').length;
    expect(acks).toBeLessThanOrEqual(100);
    expect(limited).toBeGreaterThanOrEqual(900);
    const delivered = b.frames.filter((f) => f.type === 'message' && f.body.startsWith('burst')).length;
    expect(delivered).toBe(acks);
    await stillHealthy();
  });

  it('survives abrupt disconnects mid-frame and a reconnect storm; every connection is released', async () => {
    // A hand-made upgrade, then half a frame, then the socket vanishes.
    for (let i = 0; i < 5; i++) {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => {});
      s.write(
        `GET /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
          `Authorization: Bearer ${ann.accessToken}\r\n\r\n`,
      );
      await new Promise((r) => s.once('data', r));
      s.write(Buffer.from([0x81, 0xfe, 0x01, 0x00, 1, 2, 3, 4, 5, 6]));
      s.destroy();
    }
    const storm = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const c = await ChatClient.open(base, { token: i % 2 ? ann.accessToken : bob.accessToken });
        if (i % 3 === 0) c.ws.terminate();
        else await c.close();
        return c;
      }),
    );
    expect(storm).toHaveLength(60);
    await stillHealthy();
    await Promise.all(open.splice(0).map((c) => c.close()));
    const deadline = Date.now() + 5000;
    while (server.core.chat.connectionCount() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(server.core.chat.connectionCount()).toBe(0);
  });
});

describe('native chat with a slow reader', () => {
  /** ann and bob in one room, on a server with a 64 KiB slow-reader bound and no frame limit to speak of. */
  async function withRoom(fn: (s: { server: TestServer; bob: Login; a: ChatClient; b: ChatClient; room: number }) => Promise<void>) {
    const server = await startTestServer('sqlite', {
      PLAZA_CHAT_FRAMES_PER_10S: '100000',
      PLAZA_CHAT_MAX_BUFFERED_BYTES: '65536',
    });
    try {
      const ann = await registerAndLogin(server.url, 'ann');
      const bob = await registerAndLogin(server.url, 'bob');
      const a = await ChatClient.open(server.url, { token: ann.accessToken });
      const room = (await a.request({ type: 'create', name: 'firehose' })).room.id;
      const b = await ChatClient.open(server.url, { token: bob.accessToken });
      await b.request({ type: 'join', room });
      await fn({ server, bob, a, b, room });
      // Everyone else carries on: the writer was never held back by the slow reader.
      expect(a.closed).toBeUndefined();
      expect(await a.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      await a.close();
    } finally {
      await server.close();
    }
  }
  /** ann sends `rounds` × 100 messages of 15,000 characters, waiting for each hundred's last ack. */
  async function flood(a: ChatClient, room: number, rounds: number) {
    const body = 'y'.repeat(15_000);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 100; i++) a.send({ type: 'send', room, body, ref: `s${round}-${i}` });
      await a.next((f) => f.ref === `s${round}-99`, 20_000);
    }
  }

  it('drops a client that stops reading (1008) instead of buffering without limit', async () => {
    await withRoom(async ({ a, b: slow, room }) => {
      (slow.ws as any)._socket.pause();
      // More than the kernel's socket buffers can hold (~4 MiB send + receive): 12 MB in all.
      await flood(a, room, 8);
      (slow.ws as any)._socket.resume();
      expect((await slow.waitClosed(10_000)).code).toBe(1008);
    });
  });

  it('drops a client whose replay stalls while its room keeps talking (1008), rather than holding live messages without limit', async () => {
    await withRoom(async ({ server, bob, a, b, room }) => {
      await b.close();
      // A backlog larger than the kernel's socket buffers, so the replay must wait for bob to read.
      await flood(a, room, 10);
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/chat?resume=${room}:0`, {
        headers: { authorization: `Bearer ${bob.accessToken}` },
      });
      ws.once('open', () => (ws as any)._socket.pause());
      const slow = new ChatClient(ws);
      await new Promise((r) => setTimeout(r, 500));
      // Live messages arrive while the replay waits: held for bob, up to the 64 KiB bound.
      for (let i = 0; i < 10; i++) await a.request({ type: 'send', room, body: `live ${i} ${'y'.repeat(15_000)}` });
      (ws as any)._socket.resume();
      expect((await slow.waitClosed(10_000)).code).toBe(1008);
      const got = slow.frames.filter((f) => f.type === 'message');
      expect(got.length).toBeLessThan(1000);
      expect(got.some((f) => String(f.body).startsWith('live'))).toBe(false);
    });
  });
});

describe('native chat heartbeats', () => {
  it('drops a connection that stops answering pings (others see "disconnected") and closes sockets of ended sessions (4001)', async () => {
    const server = await startTestServer('sqlite', { PLAZA_CHAT_HEARTBEAT_SECONDS: '1' });
    try {
      const ann = await registerAndLogin(server.url, 'ann');
      const bob = await registerAndLogin(server.url, 'bob');
      const a = await ChatClient.open(server.url, { token: ann.accessToken });
      const room = (await a.request({ type: 'create', name: 'pulse' })).room.id;
      const { default: WebSocket } = await import('ws');
      // A client whose network died: it never answers pings.
      const deadWs = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/chat`, {
        headers: { authorization: `Bearer ${bob.accessToken}` },
        autoPong: false,
      });
      const dead = new ChatClient(deadWs);
      await dead.next((f) => f.type === 'hello');
      await dead.request({ type: 'join', room });
      await a.next((f) => f.type === 'presence' && f.user.name === 'bob' && f.event === 'joined');
      expect(await a.next((f) => f.type === 'presence' && f.user.name === 'bob', 6000)).toMatchObject({ event: 'disconnected', count: 2 });
      expect((await dead.waitClosed()).code).toBe(1006);

      // Logging out ends the session: its sockets are closed at the next heartbeat.
      const live = await ChatClient.open(server.url, { token: bob.accessToken });
      const out = await api(server.url, 'POST', '/api/auth/logout', { token: bob.accessToken });
      expect(out.status).toBeLessThan(300);
      expect((await live.waitClosed(6000)).code).toBe(4001);
      await a.close();
    } finally {
      await server.close();
    }
  });
});
