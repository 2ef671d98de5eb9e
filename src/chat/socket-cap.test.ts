import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient, SocketClient, TextClient, wsOptions, wsUrl } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const CAP = 4;
const CLOSE_TOO_MANY_SOCKETS = 4029;
const REASON = `Too many chat connections: at most ${CAP} per user; close one first`;

type Login = Awaited<ReturnType<typeof registerAndLogin>>;

const NATIVE_REFUSAL = JSON.stringify({ type: 'error', code: 'TOO_MANY_SOCKETS', message: REASON });
const SEED_REFUSAL = `Error: ${REASON}`;
/** The transports a user may hold chat sockets on: how to open one, how an accepted one greets, how a refused one is told. */
const transports = [
  { name: 'native /api/chat', path: () => '/api/chat', greeted: /"type":"hello"/, refusal: NATIVE_REFUSAL },
  { name: 'seed 004 /ws/{client_id}', path: (u: Login) => `/ws/${u.user.username}`, greeted: /^Connected as client /, refusal: SEED_REFUSAL },
  {
    name: 'seed 004 /api/ws/{client_id}/{group}',
    path: (u: Login) => `/api/ws/${u.user.username}/cap-room`,
    greeted: /^Connected as client /,
    refusal: SEED_REFUSAL,
  },
] as const;

describe.each(await testDatabases())('chat sockets per user are capped (%s)', (db) => {
  let server: TestServer;
  let base: string;
  let ann: Login;
  let bob: Login;
  const open: SocketClient[] = [];

  /** Opens a socket of any transport and collects its text frames; resolves once upgraded. */
  async function socket(who: Login, path: string): Promise<TextClient> {
    const ws = new WebSocket(wsUrl(base, path), wsOptions({ token: who.accessToken }));
    const c = new TextClient(ws);
    open.push(c);
    await SocketClient.opened(ws);
    return c;
  }

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_CHAT_MAX_SOCKETS_PER_USER: String(CAP), PLAZA_TCPCHAT_PORT: '0' });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  it.each(transports)('the socket past the cap on $name is closed with 4029; closing one makes room', async (t) => {
    // The cap counts every transport together: the first CAP sockets take turns between them.
    const held: TextClient[] = [];
    for (let i = 0; i < CAP; i++) {
      const other = transports[i % transports.length] as (typeof transports)[number];
      const c = await socket(ann, other.path(ann));
      await c.next(other.greeted);
      held.push(c);
    }

    const refused = await socket(ann, t.path(ann));
    expect(await refused.waitClosed()).toEqual({ code: CLOSE_TOO_MANY_SOCKETS, reason: REASON });
    // Told why in the transport's own words, and never greeted.
    expect(refused.lines).toEqual([t.refusal]);
    // The held sockets still work, and another user is not affected.
    const native = new ChatClient(held[0]?.ws as WebSocket);
    expect(await native.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    const other = await socket(bob, t.path(bob));
    await other.next(t.greeted);

    await held[1]?.close();
    const again = await socket(ann, t.path(ann));
    await again.next(t.greeted);
    expect(again.closed).toBeUndefined();
  });

  it('frames a refused native socket sent before its close are dropped, never handled', async () => {
    const dan = await registerAndLogin(base, 'dan');
    const first = await ChatClient.open(base, { token: dan.accessToken });
    open.push(first);
    const room = (await first.request({ type: 'create', name: 'dan-room' })).room.id;
    for (let i = 1; i < CAP; i++) await (await socket(dan, '/api/chat')).next(/"type":"hello"/);
    const ws = new WebSocket(wsUrl(base, '/api/chat'), wsOptions({ token: dan.accessToken }));
    const refused = new SocketClient(ws);
    open.push(refused);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'send', room, body: 'sneaked in' })));
    expect((await refused.waitClosed()).code).toBe(CLOSE_TOO_MANY_SOCKETS);
    // Sent after the refused socket's frame reached the server: once it is in, the other would be too.
    expect(await first.request({ type: 'send', room, body: 'marker' })).toMatchObject({ type: 'ack', seq: 1 });
    expect((await first.next((f) => f.type === 'message')).body).toBe('marker');
    expect(first.take('message')).toEqual([]);
  });

  it('a seed 003 TCP chat connection counts toward the cap too', async () => {
    const cat = await registerAndLogin(base, 'cat');
    const tcp = net.connect(server.tcpchatPort as number, '127.0.0.1');
    tcp.on('error', () => {});
    const welcomed = new Promise<void>((resolve) => {
      let got = '';
      tcp.on('data', (d: Buffer) => {
        got += d.toString('utf8');
        if (got.includes('환영')) resolve();
      });
    });
    await new Promise((r) => tcp.once('connect', r));
    tcp.write(`cat/${PASSWORD}`);
    await welcomed;
    try {
      for (let i = 1; i < CAP; i++) await (await socket(cat, '/api/chat')).next(/"type":"hello"/);
      const refused = await socket(cat, '/api/chat');
      expect(await refused.waitClosed()).toEqual({ code: CLOSE_TOO_MANY_SOCKETS, reason: REASON });
    } finally {
      tcp.destroy();
    }
  });
});
