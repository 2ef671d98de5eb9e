import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

describe.each(await testDatabases())('native chat over WebSocket (%s)', (db) => {
  let server: TestServer;
  let base: string;
  let ann: Awaited<ReturnType<typeof registerAndLogin>>;
  let bob: Awaited<ReturnType<typeof registerAndLogin>>;
  let cat: Awaited<ReturnType<typeof registerAndLogin>>;
  const open: ChatClient[] = [];
  const connect = async (token: string) => {
    const c = await ChatClient.open(base, { token });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_PRESENCE_GRACE_SECONDS: '1' });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
    cat = await registerAndLogin(base, 'cat');
  });
  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await server.close();
  });

  it('authenticates by bearer, cookie or single-use ticket; refuses anything else before upgrading', async () => {
    const a = await connect(ann.accessToken);
    expect(a.hello).toMatchObject({ type: 'hello', user: { id: ann.user.id, name: 'ann' }, rooms: [] });
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'bob', password: PASSWORD, session: 'cookie' } });
    const cookie = cookieFrom(login.headers, 'plaza_session');
    expect(cookie).toBeDefined();
    const b = await ChatClient.open(base, { cookie: cookie as string });
    open.push(b);
    expect(b.hello.user.name).toBe('bob');
    await expect(ChatClient.open(base, { cookie: cookie as string, origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    const same = await ChatClient.open(base, { cookie: cookie as string, origin: base });
    open.push(same);
    const t = await api(base, 'POST', '/api/chat/ticket', { token: cat.accessToken });
    expect(t.status).toBe(200);
    const c = await ChatClient.open(base, { ticket: t.body.ticket });
    open.push(c);
    expect(c.hello.user.name).toBe('cat');
    await expect(ChatClient.open(base, { ticket: t.body.ticket })).rejects.toThrow('HTTP 401');
    await expect(ChatClient.open(base, {})).rejects.toThrow('HTTP 401');
    await expect(ChatClient.open(base, { token: 'forged.token.value' })).rejects.toThrow('HTTP 401');
  });

  it('creates a room, acks sends with id and sequence, fans out to members, and makes resends idempotent', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const created = await a.request({ type: 'create', name: 'general' });
    expect(created).toMatchObject({ type: 'created', room: { name: 'general', visibility: 'public', role: 'admin' } });
    const room = created.room.id;
    const joined = await b.request({ type: 'join', room });
    expect(joined.room).toMatchObject({ id: room, role: 'member' });
    const ack = await a.request({ type: 'send', room, body: 'hello bob', clientId: 'c-1' });
    expect(ack).toMatchObject({ type: 'ack', room, seq: 1, clientId: 'c-1', duplicate: false });
    const got = await b.next((f) => f.type === 'message' && f.room === room);
    expect(got).toMatchObject({ id: ack.id, seq: 1, body: 'hello bob', kind: 'text', sender: { id: ann.user.id, name: 'ann' } });
    const again = await a.request({ type: 'send', room, body: 'hello bob', clientId: 'c-1' });
    expect(again).toMatchObject({ type: 'ack', id: ack.id, seq: 1, duplicate: true });
    const second = await a.request({ type: 'send', room, body: 'second' });
    expect(second.seq).toBe(2);
    const hist = await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token: bob.accessToken });
    expect(hist.body.messages.map((m: any) => m.body)).toEqual(['hello bob', 'second']);
  });
});
