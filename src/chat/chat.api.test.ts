import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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
  afterEach(async () => {
    // Each test starts with nobody connected (goodbyes are clean, so nobody lingers in a grace period).
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

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

  it('pages back through history over REST and WebSocket', async () => {
    const a = await connect(ann.accessToken);
    const room = (await a.request({ type: 'create', name: 'paging' })).room.id;
    for (let i = 1; i <= 25; i++) await a.request({ type: 'send', room, body: `m${i}` });
    const page1 = await api(base, 'GET', `/api/chat/rooms/${room}/messages?limit=10`, { token: ann.accessToken });
    expect(page1.body.messages.map((m: any) => m.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(page1.body.hasMore).toBe(true);
    const page2 = await a.request({ type: 'history', room, before: 16, limit: 10 });
    expect(page2.messages.map((m: any) => m.body)).toEqual(['m6', 'm7', 'm8', 'm9', 'm10', 'm11', 'm12', 'm13', 'm14', 'm15']);
    const page3 = await a.request({ type: 'history', room, before: 6, limit: 10 });
    expect(page3.messages.map((m: any) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(page3.hasMore).toBe(false);
    const outsider = await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token: cat.accessToken });
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.code).toBe('NOT_MEMBER');
  });

  it('replays everything missed after a reconnect, in order and exactly once, then live messages', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const room = (await a.request({ type: 'create', name: 'replay' })).room.id;
    await b.request({ type: 'join', room });
    await a.request({ type: 'send', room, body: 'seen' });
    const seen = await b.next((f) => f.type === 'message' && f.room === room);
    b.ws.terminate();
    for (let i = 0; i < 40; i++) a.send({ type: 'send', room, body: `missed ${i}`, ref: `x${i}` });
    await a.next((f) => f.ref === 'x39');
    const b2 = await connect(bob.accessToken);
    expect(b2.hello.rooms.map((r: any) => r.id)).toContain(room);
    // Live sends keep arriving once the replay has started (before it, they would simply come
    // first: a `resume` frame orders only what follows it; ?resume= at connect orders everything).
    b2.send({ type: 'resume', rooms: [{ room, after: seen.seq }], ref: 'resume' });
    await b2.next((f) => f.type === 'message' && f.room === room, 5000).then((f) => b2.frames.unshift(f));
    for (let i = 0; i < 5; i++) a.send({ type: 'send', room, body: `live ${i}`, ref: `y${i}` });
    const resumed = await b2.next((f) => f.ref === 'resume');
    expect(resumed.rooms[0]).toMatchObject({ room });
    await a.next((f) => f.ref === 'y4');
    await new Promise((r) => setTimeout(r, 200));
    const got = b2.take('message').filter((m) => m.room === room);
    const seqs = got.map((m) => m.seq);
    expect(seqs).toEqual([...Array(45).keys()].map((i) => seen.seq + 1 + i));
    expect(got[0].body).toBe('missed 0');
  });

  it('refuses replay cursors from the future or for rooms one is not in', async () => {
    const a = await connect(ann.accessToken);
    const c = await connect(cat.accessToken);
    const room = (await a.request({ type: 'create', name: 'cursors' })).room.id;
    await a.request({ type: 'send', room, body: 'one' });
    a.send({ type: 'resume', rooms: [{ room, after: 99 }], ref: 'f' });
    expect(await a.next((f) => f.type === 'error' && f.ref === 'f')).toMatchObject({ code: 'INVALID_CURSOR' });
    c.send({ type: 'resume', rooms: [{ room, after: 0 }], ref: 'g' });
    expect(await c.next((f) => f.type === 'error' && f.ref === 'g')).toMatchObject({ code: 'NOT_MEMBER' });
    expect(c.take('message').filter((m) => m.room === room)).toEqual([]);
  });

  it('announces presence: joined with count, disconnected (count kept), rejoined, left, offline', async () => {
    const a = await connect(ann.accessToken);
    const room = (await a.request({ type: 'create', name: 'presence' })).room.id;
    const b = await connect(bob.accessToken);
    await b.request({ type: 'join', room });
    const pres = () => a.next((f) => f.type === 'presence' && f.room === room && f.user.name === 'bob');
    expect(await pres()).toMatchObject({ event: 'joined', count: 2 });
    b.ws.terminate();
    expect(await pres()).toMatchObject({ event: 'disconnected', count: 2 });
    const b2 = await connect(bob.accessToken);
    expect(await pres()).toMatchObject({ event: 'rejoined', count: 2 });
    const members = await api(base, 'GET', `/api/chat/rooms/${room}/members`, { token: ann.accessToken });
    expect(members.body.members.find((m: any) => m.username === 'bob').presence).toBe('online');
    b2.send({ type: 'bye' });
    expect(await pres()).toMatchObject({ event: 'left', count: 1 });
    const b3 = await connect(bob.accessToken);
    expect(await pres()).toMatchObject({ event: 'joined', count: 2 });
    b3.ws.terminate();
    expect(await pres()).toMatchObject({ event: 'disconnected', count: 2 });
    expect(await pres()).toMatchObject({ event: 'offline', count: 1 });
    const p = await api(base, 'GET', `/api/chat/users/${bob.user.id}/presence`, { token: ann.accessToken });
    expect(p.body).toEqual({ presence: 'offline', connections: 0 });
  });

  it('private rooms need an invitation; room admins invite and remove', async () => {
    const a = await connect(ann.accessToken);
    const c = await connect(cat.accessToken);
    const room = (await a.request({ type: 'create', name: 'secret', visibility: 'private' })).room.id;
    expect(await c.request({ type: 'join', room })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    expect(await c.request({ type: 'send', room, body: 'let me in' })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    expect(await c.request({ type: 'invite', room, user: 'bob' })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    const listed = await api(base, 'GET', '/api/chat/rooms', { token: cat.accessToken });
    expect(listed.body.rooms.map((r: any) => r.name)).not.toContain('secret');
    expect(await a.request({ type: 'invite', room, user: 'cat' })).toMatchObject({ type: 'invited' });
    expect(await c.request({ type: 'join', room })).toMatchObject({ type: 'joined', room: { id: room } });
    await c.next((f) => f.type === 'membership' && f.event === 'added' && f.room.id === room);
    const sent = await a.request({ type: 'send', room, body: 'welcome cat' });
    expect((await c.next((f) => f.type === 'message' && f.room === room)).id).toBe(sent.id);
    expect(await c.request({ type: 'remove', room, user: 'ann' })).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    expect(await a.request({ type: 'remove', room, user: cat.user.id })).toMatchObject({ type: 'removed' });
    await c.next((f) => f.type === 'membership' && f.event === 'removed');
    await a.request({ type: 'send', room, body: 'cat is gone' });
    expect(await c.request({ type: 'history', room })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    expect(c.take('message').filter((m) => m.body === 'cat is gone')).toEqual([]);
  });

  it('direct messages reach the other user only', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const c = await connect(cat.accessToken);
    const ack = await a.request({ type: 'send', user: 'bob', body: 'psst' });
    expect(ack.type).toBe('ack');
    const got = await b.next((f) => f.type === 'message' && f.id === ack.id);
    expect(got.body).toBe('psst');
    const dm = await b.request({ type: 'dm', user: ann.user.id });
    expect(dm.room).toMatchObject({ id: ack.room, kind: 'dm' });
    expect(await c.request({ type: 'history', room: ack.room })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
    const rest = await api(base, 'GET', `/api/chat/rooms/${ack.room}/messages`, { token: cat.accessToken });
    expect(rest.status).toBe(404);
    expect(await a.request({ type: 'send', user: 'nobody-here', body: 'x' })).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('shares a file into a room: members download it, others cannot', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const room = (await a.request({ type: 'create', name: 'files' })).room.id;
    await b.request({ type: 'join', room });
    const up = await fetch(`${base}/api/files/raw`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ann.accessToken}`, 'content-type': 'application/octet-stream', 'file-name': 'notes.txt' },
      body: 'meeting notes',
    });
    expect(up.status).toBe(201);
    const fileId = ((await up.json()) as any).file.id;
    const before = await api(base, 'GET', `/api/files/${fileId}/content`, { token: bob.accessToken });
    expect(before.status).toBe(404);
    const ack = await a.request({ type: 'share', room, fileId });
    expect(ack.type).toBe('ack');
    const msg = await b.next((f) => f.type === 'message' && f.id === ack.id);
    expect(msg).toMatchObject({ kind: 'file', body: 'notes.txt', file: { id: fileId, name: 'notes.txt', size: 13 } });
    const dl = await api(base, 'GET', `/api/files/${fileId}/content`, { token: bob.accessToken });
    expect(dl.status).toBe(200);
    expect(dl.text).toBe('meeting notes');
    expect((await api(base, 'GET', `/api/files/${fileId}/content`, { token: cat.accessToken })).status).toBe(404);
    expect((await api(base, 'DELETE', `/api/files/${fileId}`, { token: bob.accessToken })).status).toBe(404);
    expect(await b.request({ type: 'share', room, fileId })).toMatchObject({ type: 'error', code: 'NOT_FOUND' });
  });

  it('server-side sends answer delivered connections and presence', async () => {
    const a1 = await connect(ann.accessToken);
    const a2 = await connect(ann.accessToken);
    const self = await api(base, 'POST', `/api/chat/users/${ann.user.id}/messages`, { token: ann.accessToken, json: { message: 'note to self' } });
    expect(self.body).toEqual({ delivered: 2, presence: 'online' });
    expect(await a1.next((f) => f.type === 'direct')).toMatchObject({ text: 'note to self', from: { name: 'ann' } });
    expect(await a2.next((f) => f.type === 'direct')).toMatchObject({ text: 'note to self' });
    const other = await api(base, 'POST', `/api/chat/users/${ann.user.id}/messages`, { token: bob.accessToken, json: { message: 'hi' } });
    expect(other.status).toBe(403);
    const room = (await a1.request({ type: 'create', name: 'rest-send' })).room.id;
    const sent = await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken, json: { body: 'via REST', clientId: 'rest-1' } });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ message: { seq: 1, body: 'via REST' }, duplicate: false, delivered: 2 });
    const dup = await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken, json: { body: 'via REST', clientId: 'rest-1' } });
    expect(dup.body).toMatchObject({ message: { id: sent.body.message.id, seq: 1 }, duplicate: true, delivered: 0 });
    const notMember = await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: bob.accessToken, json: { body: 'x' } });
    expect(notMember.status).toBe(403);
  });

  it('with cursors given at connect (?resume=), replayed messages come before anything live, strictly in order', async () => {
    const a = await connect(ann.accessToken);
    const b = await connect(bob.accessToken);
    const room = (await a.request({ type: 'create', name: 'strict' })).room.id;
    await b.request({ type: 'join', room });
    for (let i = 1; i <= 5; i++) await a.request({ type: 'send', room, body: `old ${i}` });
    await b.close();
    for (let i = 6; i <= 150; i++) a.send({ type: 'send', room, body: `missed ${i}`, ref: `m${i}` });
    // Live sends race the reconnect.
    const url = `${base.replace(/^http/, 'ws')}/api/chat?resume=${room}:5`;
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    const c = new ChatClient(ws);
    open.push(c);
    for (let i = 151; i <= 170; i++) a.send({ type: 'send', room, body: `live ${i}`, ref: `m${i}` });
    const resumed = await c.next((f) => f.type === 'resumed');
    expect(resumed.rooms[0]).toMatchObject({ room });
    await a.next((f) => f.ref === 'm170');
    await new Promise((r) => setTimeout(r, 200));
    const seqs = c.frames.filter((f) => f.type === 'message' && f.room === room).map((f) => f.seq);
    expect(seqs).toEqual([...Array(165).keys()].map((i) => i + 6));
    const bad = new WebSocket(`${base.replace(/^http/, 'ws')}/api/chat?resume=x:1`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
    bad.on('error', () => {});
    const status = await new Promise<number>((resolve) => bad.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(400);
    bad.terminate();
  });

  it('lets a site admin manage private rooms they never joined', async () => {
    const dan = await registerAndLogin(base, 'dan');
    await server.core.users.setRole('dan', 'admin');
    const a = await connect(ann.accessToken);
    const c = await connect(dan.accessToken);
    const room = (await a.request({ type: 'create', name: 'hidden', visibility: 'private' })).room.id;
    expect(await c.request({ type: 'invite', room, user: 'bob' })).toMatchObject({ type: 'invited' });
    expect(await c.request({ type: 'remove', room, user: 'ann' })).toMatchObject({ type: 'removed' });
  });

  it('always sends hello first, even when the user’s own presence is announced at connect', async () => {
    const a = await connect(ann.accessToken);
    await a.request({ type: 'create', name: 'first-frame' });
    await a.close();
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/chat`, { headers: { authorization: `Bearer ${ann.accessToken}` } });
    const first = await new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
    expect(first.type).toBe('hello');
    ws.close();
  });
});
