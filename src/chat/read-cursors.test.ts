import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

type Login = Awaited<ReturnType<typeof registerAndLogin>>;

/** Per-member read cursors: REST and the `read` frame, unread counts in the room list and hello. */
describe.each(await testDatabases())('chat read cursors (%s)', (db) => {
  let server: TestServer;
  let base: string;
  let ann: Login;
  let bob: Login;
  let cat: Login;
  let room: number;
  let secret: number;
  const open: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.open(base, { token });
    open.push(c);
    return c;
  };
  const roomIn = async (who: Login, id: number) => {
    const r = await api(base, 'GET', '/api/chat/rooms', { token: who.accessToken });
    expect(r.status).toBe(200);
    return r.body.rooms.find((x: any) => x.id === id);
  };

  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
    cat = await registerAndLogin(base, 'cat');
    const a = await connect(ann.accessToken);
    room = (await a.request({ type: 'create', name: 'general' })).room.id;
    secret = (await a.request({ type: 'create', name: 'hidden', visibility: 'private' })).room.id;
    // History before bob joins is not unread to him.
    await a.request({ type: 'send', room, body: 'before bob' });
    const b = await connect(bob.accessToken);
    await b.request({ type: 'join', room });
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  it('counts what arrived after the cursor; REST and the frame move it forward only; hello carries it', async () => {
    expect(await roomIn(bob, room)).toMatchObject({ lastSeq: 1, readSeq: 1, unread: 0, role: 'member' });
    const a = await connect(ann.accessToken);
    for (let i = 0; i < 5; i++) await a.request({ type: 'send', room, body: `m${i}` });
    expect(await roomIn(bob, room)).toMatchObject({ lastSeq: 6, readSeq: 1, unread: 5 });

    const marked = await api(base, 'POST', `/api/chat/rooms/${room}/read`, { token: bob.accessToken, json: { seq: 3 } });
    expect(marked.status).toBe(200);
    expect(marked.body).toEqual({ room, readSeq: 3, unread: 3 });
    // A lower seq (an older tab) leaves the cursor where it is.
    const back = await api(base, 'POST', `/api/chat/rooms/${room}/read`, { token: bob.accessToken, json: { seq: 2 } });
    expect(back.body).toEqual({ room, readSeq: 3, unread: 3 });

    // Another device of the same user sees the same count at connect.
    const b = await connect(bob.accessToken);
    expect(b.hello.rooms.find((r: any) => r.id === room)).toMatchObject({ readSeq: 3, unread: 3 });
    const reply = await b.request({ type: 'read', room, seq: 6 });
    expect(reply).toMatchObject({ type: 'read', room, readSeq: 6, unread: 0 });
    expect(await roomIn(bob, room)).toMatchObject({ readSeq: 6, unread: 0 });
    // The rooms frame answers the same.
    const listed = await b.request({ type: 'rooms' });
    expect(listed.rooms.find((r: any) => r.id === room)).toMatchObject({ readSeq: 6, unread: 0 });
    // Someone else's cursor is their own; what one writes oneself is read (on every device).
    expect(await roomIn(ann, room)).toMatchObject({ readSeq: 6, unread: 0 });
    await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: bob.accessToken, json: { body: 'from bob' } });
    expect(await roomIn(bob, room)).toMatchObject({ lastSeq: 7, readSeq: 7, unread: 0 });
    expect(await roomIn(ann, room)).toMatchObject({ lastSeq: 7, readSeq: 6, unread: 1 });
    await b.request({ type: 'send', room, body: 'and again', clientId: 'bob-1' });
    // A resend of the same clientId (a duplicate) changes nothing.
    await b.request({ type: 'send', room, body: 'and again', clientId: 'bob-1' });
    expect(await roomIn(bob, room)).toMatchObject({ lastSeq: 8, readSeq: 8, unread: 0 });
    // Public rooms one is not in carry no cursor.
    const other = await roomIn(cat, room);
    expect(other.role).toBeUndefined();
    expect(other.unread).toBeUndefined();
    expect(other.readSeq).toBeUndefined();
  });

  it('refuses rooms one is not in, sequence numbers past the end and mistyped input, over REST', async () => {
    const post = (token: string, id: unknown, body: unknown) =>
      api(base, 'POST', `/api/chat/rooms/${String(id)}/read`, { token, json: body });
    const cases: Array<[Promise<any>, number, string]> = [
      [post(cat.accessToken, room, { seq: 1 }), 403, 'NOT_MEMBER'],
      [post(cat.accessToken, secret, { seq: 0 }), 404, 'NOT_FOUND'],
      [post(bob.accessToken, 999999, { seq: 0 }), 404, 'NOT_FOUND'],
      [post(bob.accessToken, room, { seq: 10_000 }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, { seq: -1 }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, { seq: 1.5 }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, { seq: '3' }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, { seq: 1e300 }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, {}), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, room, { seq: 1, extra: true }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, 'general', { seq: 1 }), 400, 'VALIDATION_FAILED'],
      [post(bob.accessToken, '..%2F..%2Fetc', { seq: 1 }), 400, 'VALIDATION_FAILED'],
      [post('forged.token.value', room, { seq: 1 }), 401, 'INVALID_TOKEN'],
    ];
    for (const [pending, status, code] of cases) {
      const r = await pending;
      expect([r.status, r.body?.error?.code]).toEqual([status, code]);
    }
    const malformed = await fetch(`${base}/api/chat/rooms/${room}/read`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.accessToken}`, 'content-type': 'application/json' },
      body: '{"seq": 1',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.code).toBeTypeOf('string');
    // Nothing moved bob's cursor.
    expect((await roomIn(bob, room)).readSeq).toBe(8);
  });

  it('refuses the same over the frame with error frames, and the connection lives on', async () => {
    const c = await connect(cat.accessToken);
    const b = await connect(bob.accessToken);
    const cases: Array<[ChatClient, Record<string, unknown>, string, RegExp]> = [
      [c, { type: 'read', room, seq: 1 }, 'NOT_MEMBER', /Join room/],
      [c, { type: 'read', room: secret, seq: 0 }, 'NOT_FOUND', /No such room/],
      [b, { type: 'read', room, seq: 10_000 }, 'VALIDATION_FAILED', /past the room's last message/],
      [b, { type: 'read', room, seq: -2 }, 'VALIDATION_FAILED', /"seq"/],
      [b, { type: 'read', room, seq: 'all' }, 'VALIDATION_FAILED', /"seq"/],
      [b, { type: 'read', room: 'general', seq: 1 }, 'VALIDATION_FAILED', /"room"/],
      [b, { type: 'read', room }, 'VALIDATION_FAILED', /"seq"/],
      [b, { type: 'read', room, seq: 1, until: 5 }, 'VALIDATION_FAILED', /no field "until"/],
    ];
    for (const [client, frame, code, message] of cases) {
      // Frames that fail validation are answered without their ref (it is not trusted); the rest with it.
      client.send(frame);
      const reply = await client.next((f) => f.type === 'error');
      expect(reply).toMatchObject({ type: 'error', code });
      expect(reply.message).toMatch(message);
    }
    expect((await roomIn(bob, room)).readSeq).toBe(8);
    expect((await b.request({ type: 'ping' })).type).toBe('pong');
  });

  it('keeps the unread count one subtraction: counted from the room’s last seq, not by reading its history', async () => {
    const a = await connect(ann.accessToken);
    const big = (await a.request({ type: 'create', name: 'busy' })).room.id;
    const b = await connect(bob.accessToken);
    await b.request({ type: 'join', room: big });
    await Promise.all(Array.from({ length: 150 }, (_, i) => a.request({ type: 'send', room: big, body: `n${i}` })));
    expect(await roomIn(bob, big)).toMatchObject({ lastSeq: 150, readSeq: 0, unread: 150 });
    expect(await roomIn(ann, big)).toMatchObject({ lastSeq: 150, readSeq: 150, unread: 0 });
    expect((await b.request({ type: 'read', room: big, seq: 140 })).unread).toBe(10);
  });
});
