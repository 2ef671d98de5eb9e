import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { type Auth, ChatClient, TextClient, wsOptions, wsUrl } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/** The HTTP status and error code of a refused upgrade (or 101 when it was accepted). */
async function upgradeStatus(base: string, path: string, auth: Auth = {}): Promise<{ status: number; code?: string }> {
  const ws = new WebSocket(wsUrl(base, path, auth), wsOptions(auth));
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = JSON.parse(body).error?.code;
        } catch {}
        resolve({ status: res.statusCode ?? 0, ...(code ? { code } : {}) });
      });
    });
  });
}

const WELCOME = /^Connected as client '([^']+)'(?: in group '([^']+)')?\. Commands: /;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(await testDatabases())('seed 004 WebSocket text commands (%s)', (db) => {
  let server: TestServer;
  let base: string;
  let ann: Awaited<ReturnType<typeof registerAndLogin>>;
  let bob: Awaited<ReturnType<typeof registerAndLogin>>;
  let cat: Awaited<ReturnType<typeof registerAndLogin>>;
  let boss: { accessToken: string };
  const open: Array<TextClient | ChatClient> = [];
  const text = async (path: string, auth: Auth = {}) => {
    const c = await TextClient.open(base, path, auth);
    open.push(c);
    return c;
  };
  /** A seed 004 client logged in by bearer header, after its welcome. */
  const seed = async (who: { accessToken: string; user: { username: string } }, group?: string) => {
    const c = await text(`/ws/${who.user.username}${group ? `/${group}` : ''}`, { token: who.accessToken });
    await c.next(WELCOME);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer(db, {
      PLAZA_PRESENCE_GRACE_SECONDS: '1',
      PLAZA_CHAT_FRAMES_PER_10S: '100',
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: 'boss-password-1',
    });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
    cat = await registerAndLogin(base, 'cat');
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: 'boss-password-1' } });
    expect(login.status).toBe(200);
    boss = login.body;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  it('/ws and /api/ws echo every text frame without a login', async () => {
    for (const path of ['/ws', '/api/ws']) {
      const e = await text(path);
      expect(await e.ask('hello there', /^Message text was: /)).toBe('Message text was: hello there');
      expect(await e.ask('/groups', /^Message text was: /)).toBe('Message text was: /groups');
      e.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await e.next(/^Error/)).toBe('Error: Only text frames are supported');
    }
  });

  it('welcomes by client id, with and without a group, on /ws and /api/ws; the group path joins it', async () => {
    const a = await text('/ws/ann', { token: ann.accessToken });
    const w = await a.next(WELCOME);
    expect(w.startsWith("Connected as client 'ann'. Commands: /send_to")).toBe(true);
    const b = await text('/api/ws/bob/welcome-room', { queryToken: bob.accessToken });
    expect((await b.next(WELCOME)).startsWith("Connected as client 'bob' in group 'welcome-room'. ")).toBe(true);
    expect(await b.ask('/my_groups', /^Your groups/)).toBe("Your groups: ['welcome-room']");
    const rooms = await api(base, 'GET', '/api/chat/rooms', { token: bob.accessToken });
    expect(rooms.body.rooms.find((r: any) => r.name === 'welcome-room')).toMatchObject({ role: 'admin', memberCount: 1 });
    const c = await text('/api/ws/cat/welcome-room', { token: cat.accessToken });
    expect(await c.next(WELCOME)).toMatch(/^Connected as client 'cat' in group 'welcome-room'\. /);
    expect(await b.next(/joined group/)).toBe("Client 'cat' joined group 'welcome-room'");
    expect(await a.ask('/help', /^Commands/)).toMatch(/^Commands: \/send_to <client_id> <message>, \/join <group>/);
  });

  it('answers every command with its exact string', async () => {
    const a = await seed(ann);
    const b = await seed(bob);
    expect(await a.ask('/my_groups', /^Your groups/)).toBe('Your groups: []');
    expect(await a.ask('/join cmd-a', /Joined|Error/)).toBe('Joined group: cmd-a');
    expect(await a.ask('/join cmd-b', /Joined|Error/)).toBe('Joined group: cmd-b');
    expect(await b.ask('/join cmd-a', /Joined|Error/)).toBe('Joined group: cmd-a');
    expect(await a.next(/joined group/)).toBe("Client 'bob' joined group 'cmd-a'");
    expect(await a.ask('/my_groups', /^Your groups/)).toBe("Your groups: ['cmd-a', 'cmd-b']");
    // The seed's words: JSON as Python's json.dumps writes it (", " and ": "), member_count first.
    const groups = await a.ask('/groups', /^Available groups/);
    expect(groups).toContain('{"name": "cmd-a", "member_count": 2, "online": 2}');
    expect(groups).toContain('{"name": "cmd-b", "member_count": 1, "online": 1}');
    expect(groups).toMatch(/^Available groups: \[\{"name": /);
    expect(await b.ask('/group_members cmd-a', /^Members|Error/)).toBe("Members in group 'cmd-a': ['ann', 'bob']");
    expect(await b.ask('/group_members cmd-b', /^Members|Error/)).toBe("Members in group 'cmd-b': ['ann']");
    // Non-ASCII names are escaped as json.dumps does by default.
    expect(await a.ask('/join 대화', /Joined|Error/)).toBe('Joined group: 대화');
    expect(await a.ask('/groups', /^Available groups/)).toContain('{"name": "\\ub300\\ud654", "member_count": 1, "online": 1}');
    expect(await a.ask('/leave 대화', /Left|Error/)).toBe('Left group: 대화');
    expect(await b.ask('/group_members nowhere', /^Members|Error/)).toBe("Error: No group 'nowhere'");

    // /group reaches each of the sender's groups (sender included); plain text likewise in its own words.
    a.send('/group hello groups');
    expect(await b.next(/^Group message/)).toBe("Group message from client 'ann': hello groups");
    // ann is in two groups: one copy per room, shown once (adcluster.behaviour.test.ts).
    expect(await a.next(/^Group message/)).toBe("Group message from client 'ann': hello groups");
    b.send('just talking');
    expect(await a.next(/^Client 'bob': /)).toBe("Client 'bob': just talking");
    expect(await b.next(/^Client 'bob': /)).toBe("Client 'bob': just talking");

    expect(await b.ask('/leave cmd-a', /Left|Error/)).toBe('Left group: cmd-a');
    expect(await a.next(/left group/)).toBe("Client 'bob' left group 'cmd-a'");
    expect(await b.ask('/leave cmd-a', /Left|Error/)).toBe("Error: You are not in group 'cmd-a'");
    const loner = await seed(await registerAndLogin(base, 'loner'));
    expect(await loner.ask('/group anyone?', /^Error/)).toBe('Error: You are not in any group; use /join <group> first');
    // Plain text outside any group: the seed answers the sender in its own words (and Plaza tells nobody else).
    expect(await loner.ask('anyone?', /says|^Error/)).toBe("Client 'loner' says: anyone?");
    // bob has left cmd-a: its member count is public, who is online there is no longer bob's to know.
    expect(await b.ask('/groups', /^Available groups/)).toContain('{"name": "cmd-a", "member_count": 1}');

    expect(await a.ask('/join', /^Error|Usage/)).toBe('Error: Usage: /join <group>');
    expect(await a.ask('/join bad/name', /^Error/)).toBe('Error: Group names are 1-64 letters, digits, "_", "." or "-"');
    expect(await a.ask('/send_to bob', /^Error/)).toBe('Error: Usage: /send_to <client_id> <message>');
    expect(await a.ask('/group', /^Error/)).toBe('Error: Usage: /group <message>');
    expect(await a.ask('/nope', /^Error/)).toMatch(/^Error: Unknown command '\/nope'\. Commands: \/send_to/);
    expect(await a.ask('', /^Error/)).toBe('Error: A message needs some text');
    expect(await a.ask('   ', /^Error/)).toBe('Error: A message needs some text');
    // Not a /word: plain text to the groups.
    a.send('/usr/bin is a path');
    expect(await a.next(/^Client 'ann': /)).toBe("Client 'ann': /usr/bin is a path");
    // bob left every group they shared with ann.
    expect(b.lines.filter((l) => l.includes('/usr/bin'))).toEqual([]);
  });

  it("/group on /ws/{client_id}/{group} goes to the path's group only (the sender sees it once)", async () => {
    const setup = await seed(ann);
    await setup.ask('/join path-x', 'Joined group: path-x');
    await setup.ask('/join path-y', 'Joined group: path-y');
    await setup.close();
    // ann's connection on path-x follows both of ann's groups; bob hears path-y only, cat path-x only.
    const a = await seed(ann, 'path-x');
    const b = await seed(bob, 'path-y');
    const c = await seed(cat, 'path-x');
    a.send('/group only for x');
    // Plain text still goes to all of ann's groups: once it reached everyone, the /group had too.
    a.send('to every group');
    expect(await c.next(/only for x/)).toBe("Group message from client 'ann': only for x");
    await b.next("Client 'ann': to every group");
    await c.next("Client 'ann': to every group");
    await a.next("Client 'ann': to every group");
    expect(a.take(/only for x/)).toEqual(["Group message from client 'ann': only for x"]);
    expect(b.take(/only for x/)).toEqual([]);

    // Having left the path's group, `/group` is an error (no fallback to the other groups).
    expect(await a.ask('/leave path-x', /Left|Error/)).toBe('Left group: path-x');
    expect(await a.ask('/group after leaving x', /after leaving x|^Error/)).toBe("Error: You are not in group 'path-x'");
  });

  it('serves every /api/ws REST route under /ws too, with the same auth and the same answers', async () => {
    const a = await seed(ann, 'short-g');
    const b = await seed(bob, 'short-g');
    const post = (path: string, token: string | undefined, message: string) =>
      api(base, 'POST', path, { ...(token ? { token } : {}), json: { message } });
    const answers = async (prefix: string) => ({
      anonymous: (await api(base, 'GET', `${prefix}/ws/clients`)).text,
      clients: (await api(base, 'GET', `${prefix}/ws/clients`, { token: boss.accessToken })).text,
      groups: (await api(base, 'GET', `${prefix}/ws/groups`, { token: ann.accessToken })).text,
      members: (await api(base, 'GET', `${prefix}/ws/groups/short-g`, { token: ann.accessToken })).text,
      noGroup: (await api(base, 'GET', `${prefix}/ws/groups/no-such`, { token: ann.accessToken })).text,
      selfSend: (await post(`${prefix}/ws/send_to/ann`, ann.accessToken, 'to myself')).text,
      otherSend: (await post(`${prefix}/ws/send_to/bob`, ann.accessToken, 'not allowed')).text,
      castNoAuth: (await post(`${prefix}/ws/broadcast_to_group/short-g`, undefined, 'x')).text,
    });
    const long = await answers('/api');
    const short = await answers('');
    expect(short).toEqual(long);
    expect(short.anonymous).toMatch(/^\{"error":\{"code":"UNAUTHENTICATED"/);
    expect(short.members).toBe('{"group":"short-g","members":["ann","bob"],"count":2}');
    expect(short.noGroup).toBe('{"error":{"code":"NOT_FOUND","message":"No group \'no-such\'"}}');
    expect(short.selfSend).toBe('{"client_id":"ann","delivered":1,"success":true,"detail":"Message sent to client \'ann\'"}');
    expect(JSON.parse(short.otherSend).error.code).toBe('FORBIDDEN');
    // Once from each form of the route.
    expect(await a.next(/to myself/)).toBe("Private message from client 'ann': to myself");
    expect(await a.next(/to myself/)).toBe("Private message from client 'ann': to myself");

    const cast = await post('/ws/broadcast_to_group/short-g', bob.accessToken, 'short cast');
    expect(cast.status).toBe(200);
    expect(cast.body).toEqual({ group: 'short-g', delivered: 2, id: cast.body.id, seq: 1, detail: "Message broadcast to group 'short-g'" });
    expect(await a.next(/short cast/)).toBe("Group message from client 'bob': short cast");
    expect(await b.next(/short cast/)).toBe("Group message from client 'bob': short cast");
  });

  it('a WebSocket upgrade to /ws/clients or /ws/groups/{g} is the client of that name, like any other /ws/{client_id}', async () => {
    const clients = await registerAndLogin(base, 'clients');
    const groups = await registerAndLogin(base, 'groups');
    for (const prefix of ['', '/api']) {
      const c = await text(`${prefix}/ws/clients`, { token: clients.accessToken });
      expect(await c.next(WELCOME)).toMatch(/^Connected as client 'clients'\. Commands: /);
      expect(await c.ask('/my_groups', /^Your groups/)).toBe('Your groups: []');
      const g = await text(`${prefix}/ws/groups`, { token: groups.accessToken });
      expect(await g.next(WELCOME)).toMatch(/^Connected as client 'groups'\. Commands: /);
      const gg = await text(`${prefix}/ws/groups/named-path`, { token: groups.accessToken });
      expect(await gg.next(WELCOME)).toMatch(/^Connected as client 'groups' in group 'named-path'\. Commands: /);
      expect(await upgradeStatus(base, `${prefix}/ws/clients`, { token: ann.accessToken })).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(await upgradeStatus(base, `${prefix}/ws/groups/x`)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
      await Promise.all([c.close(), g.close(), gg.close()]);
    }
    // Without an upgrade the same paths are the REST routes.
    const rest = await api(base, 'GET', '/ws/groups/named-path', { token: ann.accessToken });
    expect(rest.text).toBe('{"group":"named-path","members":["groups"],"count":1}');
  });

  it('native clients and seed 004 sockets in one room see each other; messages are stored', async () => {
    const native = await ChatClient.open(base, { token: ann.accessToken });
    open.push(native);
    const room = (await native.request({ type: 'create', name: 'mixed' })).room.id;
    const b = await seed(bob, 'mixed');
    expect(await native.next((f) => f.type === 'presence' && f.room === room && f.user.name === 'bob')).toMatchObject({
      event: 'joined',
      count: 2,
    });
    const ack = await native.request({ type: 'send', room, body: 'from the web' });
    expect(ack.type).toBe('ack');
    expect(await b.next(/^Group message/)).toBe("Group message from client 'ann': from the web");
    b.send('/group from seed 004');
    expect(await native.next((f) => f.type === 'message' && f.body === 'from seed 004')).toMatchObject({
      room,
      kind: 'text',
      sender: { id: bob.user.id, name: 'bob' },
    });
    b.send('plain from seed 004');
    expect(await native.next((f) => f.type === 'message' && f.body === 'plain from seed 004')).toMatchObject({ room });
    const hist = await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken });
    expect(hist.body.messages.map((m: any) => m.body)).toEqual(['from the web', 'from seed 004', 'plain from seed 004']);
    // A direct message from the native side arrives as a private message.
    const dm = await native.request({ type: 'send', user: 'bob', body: 'psst' });
    expect(dm.type).toBe('ack');
    expect(await b.next(/^Private message/)).toBe("Private message from client 'ann': psst");
    await b.close();
    expect(await native.next((f) => f.type === 'presence' && f.room === room && f.user.name === 'bob')).toMatchObject({
      event: 'left',
      count: 1,
    });
  });

  it('/send_to reaches every connection of the target, or says it failed', async () => {
    const a = await seed(ann);
    const b1 = await seed(bob);
    const b2 = await seed(bob);
    const nativeBob = await ChatClient.open(base, { token: bob.accessToken });
    open.push(nativeBob);
    expect(await a.ask('/send_to bob hi there  bob', /^Message sent|^Failed/)).toBe("Message sent to client 'bob'");
    expect(await b1.next(/^Private/)).toBe("Private message from client 'ann': hi there  bob");
    expect(await b2.next(/^Private/)).toBe("Private message from client 'ann': hi there  bob");
    expect(await nativeBob.next((f) => f.type === 'direct')).toMatchObject({ from: { name: 'ann' }, text: 'hi there  bob' });
    expect(await a.ask('/send_to cat are you there?', /^Message sent|^Failed/)).toBe(
      "Failed to send message to client 'cat'. Client not found or disconnected.",
    );
    expect(await a.ask('/send_to nobody-at-all hello', /^Message sent|^Failed/)).toBe(
      "Failed to send message to client 'nobody-at-all'. Client not found or disconnected.",
    );
    expect(await a.ask(`/send_to bob ${'x'.repeat(16_001)}`, /^Error/)).toBe('Error: The message must be 1-16000 characters');
  });

  it('tells the group once when a client disconnects, cleanly or not', async () => {
    const a = await seed(ann, 'bye-1');
    await a.ask('/join bye-2', 'Joined group: bye-2');
    const b = await seed(bob, 'bye-1');
    await b.ask('/join bye-2', 'Joined group: bye-2');
    expect(await a.next(/joined group 'bye-2'/)).toBe("Client 'bob' joined group 'bye-2'");
    await b.close();
    expect(await a.next(/disconnected/)).toBe("Client 'bob' has disconnected");
    const c = await seed(cat, 'bye-1');
    c.ws.terminate();
    expect(await a.next(/disconnected/)).toBe("Client 'cat' has disconnected");
    // Grace over (1 s): cat goes offline silently; nobody hears about bob twice.
    await sleep(1400);
    expect(a.lines.filter((l) => l.includes('disconnected'))).toEqual([]);
  });

  it('REST: clients, groups, members, send_to and broadcast_to_group answer delivery counts', async () => {
    const a1 = await seed(ann, 'rest-g');
    const a2 = await seed(ann);
    const b = await seed(bob, 'rest-g');
    expect((await api(base, 'GET', '/api/ws/clients')).status).toBe(401);
    // A site admin sees every connected client (who else sees whom: presence-privacy.test.ts).
    const clients = await api(base, 'GET', '/api/ws/clients', { token: boss.accessToken });
    expect(clients.status).toBe(200);
    expect(clients.body).toEqual({ clients: ['ann', 'bob'], count: 2 });

    const groups = await api(base, 'GET', '/api/ws/groups', { token: cat.accessToken });
    // cat is not in rest-g: its member count is public, who is online there is not.
    expect(groups.body.groups).toContainEqual({ name: 'rest-g', members: 2 });
    expect(groups.body.count).toBe(groups.body.groups.length);
    const members = await api(base, 'GET', '/api/ws/groups/rest-g', { token: cat.accessToken });
    expect(members.body).toEqual({ group: 'rest-g', members: ['ann', 'bob'], count: 2 });
    expect((await api(base, 'GET', '/api/ws/groups/no-such', { token: cat.accessToken })).body.error.code).toBe('NOT_FOUND');

    const self = await api(base, 'POST', '/api/ws/send_to/ann', { token: ann.accessToken, json: { message: 'note to self' } });
    expect(self.status).toBe(200);
    expect(self.body).toEqual({ client_id: 'ann', delivered: 2, success: true, detail: "Message sent to client 'ann'" });
    expect(await a1.next(/^Private/)).toBe("Private message from client 'ann': note to self");
    expect(await a2.next(/^Private/)).toBe("Private message from client 'ann': note to self");
    const other = await api(base, 'POST', '/api/ws/send_to/bob', { token: ann.accessToken, json: { message: 'hi' } });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
    const admin = await api(base, 'POST', '/api/ws/send_to/bob', { token: boss.accessToken, json: { message: 'from the admin' } });
    expect(admin.body).toMatchObject({ delivered: 1, success: true });
    expect(await b.next(/^Private/)).toBe("Private message from client 'boss': from the admin");
    const offline = await api(base, 'POST', '/api/ws/send_to/cat', { token: boss.accessToken, json: { message: 'x' } });
    expect(offline.body).toEqual({
      client_id: 'cat',
      delivered: 0,
      success: false,
      detail: "Failed to send message to client 'cat'. Client not found or disconnected.",
    });
    const missing = await api(base, 'POST', '/api/ws/send_to/ghost', { token: boss.accessToken, json: { message: 'x' } });
    expect(missing.status).toBe(404);
    const bad = await api(base, 'POST', '/api/ws/send_to/ann', { token: ann.accessToken, json: { message: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    const extra = await api(base, 'POST', '/api/ws/send_to/ann', { token: ann.accessToken, json: { message: 'x', more: 1 } });
    expect(extra.status).toBe(400);
    const plain = await api(base, 'POST', '/api/ws/send_to/ann', {
      token: ann.accessToken,
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(plain.status).toBe(415);

    const cast = await api(base, 'POST', '/api/ws/broadcast_to_group/rest-g', { token: bob.accessToken, json: { message: 'to all' } });
    expect(cast.status).toBe(200);
    // Groups are memberships: both of ann's connections follow rest-g, whichever path joined it.
    expect(cast.body).toMatchObject({ group: 'rest-g', delivered: 3, seq: 1, detail: "Message broadcast to group 'rest-g'" });
    expect(await a1.next(/^Group message/)).toBe("Group message from client 'bob': to all");
    expect(await a2.next(/^Group message/)).toBe("Group message from client 'bob': to all");
    expect(await b.next(/^Group message/)).toBe("Group message from client 'bob': to all");
    const outsider = await api(base, 'POST', '/api/ws/broadcast_to_group/rest-g', { token: cat.accessToken, json: { message: 'x' } });
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.code).toBe('NOT_MEMBER');
    const sys = await api(base, 'POST', '/api/ws/broadcast_to_group/rest-g', { token: boss.accessToken, json: { message: 'maintenance' } });
    expect(sys.body).toMatchObject({ delivered: 3, seq: 2 });
    expect(await b.next(/maintenance/)).toBe("Group message from client 'boss': maintenance");
    const none = await api(base, 'POST', '/api/ws/broadcast_to_group/nowhere', { token: boss.accessToken, json: { message: 'x' } });
    expect(none.status).toBe(404);
  });

  it('identity: client id must be the logged-in user; no guests by default; bad or cross-site credentials refused', async () => {
    expect(await upgradeStatus(base, '/ws/bob', { token: ann.accessToken })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await upgradeStatus(base, '/api/ws/bob/g1', { queryToken: ann.accessToken })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await upgradeStatus(base, '/ws/someone')).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await upgradeStatus(base, '/ws/someone/lobby')).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await upgradeStatus(base, '/ws/ann', { queryToken: 'forged.token.value' })).toEqual({ status: 401, code: 'INVALID_TOKEN' });
    expect(await upgradeStatus(base, '/ws/ann', { token: 'forged.token.value' })).toEqual({ status: 401, code: 'INVALID_TOKEN' });
    expect((await upgradeStatus(base, '/ws/ann/bad%2Fname', { token: ann.accessToken })).status).toBe(400);
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'cat', password: PASSWORD, session: 'cookie' } });
    const cookie = cookieFrom(login.headers, 'plaza_session') as string;
    expect(cookie).toBeDefined();
    expect(await upgradeStatus(base, '/ws/cat', { cookie, origin: 'https://evil.example' })).toEqual({ status: 403, code: 'CSRF_REJECTED' });
    const same = await text('/ws/cat', { cookie, origin: base });
    expect(await same.next(WELCOME)).toMatch(/^Connected as client 'cat'/);
    // A private room one was not invited to cannot be entered through the path.
    const native = await ChatClient.open(base, { token: ann.accessToken });
    open.push(native);
    await native.request({ type: 'create', name: 'hidden', visibility: 'private' });
    expect(await upgradeStatus(base, '/ws/bob/hidden', { token: bob.accessToken })).toEqual({ status: 404, code: 'NOT_FOUND' });
    const b = await seed(bob);
    expect(await b.ask('/join hidden', /Joined|Error/)).toBe("Error: Cannot join group 'hidden'");
    expect(await b.ask('/group_members hidden', /Members|Error/)).toBe("Error: No group 'hidden'");
    expect(await b.ask('/groups', /^Available/)).not.toContain('hidden');
  });

  it('bad input: binary frames, frames over 64 KiB (1009), a 1,000-frame flood (rate limited) — others still served', async () => {
    // Fresh users: their only group is this one, so every message arrives once.
    const a = await seed(await registerAndLogin(base, 'quiet'), 'flood');
    const b = await seed(await registerAndLogin(base, 'noisy'), 'flood');
    a.ws.send(Buffer.from([0, 1, 2]), { binary: true });
    expect(await a.next(/^Error/)).toBe('Error: Only text frames are supported');
    expect(await a.ask(`${'y'.repeat(16_001)}`, /^Error/)).toBe('Error: Messages are at most 16000 characters');

    for (let i = 0; i < 1000; i++) b.send(`burst ${i}`);
    await a.next("Client 'noisy': burst 99", 15_000);
    await sleep(300);
    const limited = b.take(/^Error: Too many messages: at most 100 per 10 seconds/).length;
    expect(limited).toBeGreaterThanOrEqual(900);
    const got = [...a.take(/^Client 'noisy': burst /), "Client 'noisy': burst 99"];
    expect(got.length).toBeLessThanOrEqual(100);
    expect(new Set(got).size).toBe(got.length);
    // The server answers others at once.
    const c = await seed(cat, 'flood');
    c.send('still here');
    expect(await a.next(/still here/)).toBe("Client 'cat': still here");

    const big = await seed(cat);
    big.send('z'.repeat(70 * 1024));
    expect((await big.waitClosed()).code).toBe(1009);
    const echo = await text('/ws');
    expect(await echo.ask('ping', /^Message text/)).toBe('Message text was: ping');
  });

  it('serves the two test pages, which take the host from the page address', async () => {
    for (const path of ['/socket_test.html', '/group_messaging_test.html']) {
      const page = await api(base, 'GET', path);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('location.host');
      expect(page.text).not.toContain('127.0.0.1');
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    }
    expect((await api(base, 'GET', '/group_messaging_test.html')).text).toContain('id="group"');
  });
});

describe.each(await testDatabases())('seed 004 guests (PLAZA_GUEST_CHAT=true, %s)', (db) => {
  let server: TestServer;
  let base: string;
  let ann: Awaited<ReturnType<typeof registerAndLogin>>;
  const open: TextClient[] = [];
  const text = async (path: string, auth: Auth = {}) => {
    const c = await TextClient.open(base, path, auth);
    open.push(c);
    await c.next(WELCOME);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_GUEST_CHAT: 'true', PLAZA_PRESENCE_GRACE_SECONDS: '0' });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  it('guests connect without an account, never as a registered or online name, and use public groups only', async () => {
    const a = await text('/ws/ann/lobby', { token: ann.accessToken });
    const native = await ChatClient.open(base, { token: ann.accessToken });
    await native.request({ type: 'create', name: 'staff', visibility: 'private' });
    await native.close();

    expect(await upgradeStatus(base, '/ws/ann')).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await upgradeStatus(base, '/ws/ANN')).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await upgradeStatus(base, '/ws/bad%20id')).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await upgradeStatus(base, '/ws/visitor/staff')).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await upgradeStatus(base, '/ws/visitor/not-yet')).toEqual({ status: 404, code: 'NOT_FOUND' });

    const g = await TextClient.open(base, '/ws/visitor/lobby');
    open.push(g);
    expect(await g.next(WELCOME)).toMatch(/^Connected as client 'visitor' in group 'lobby'\. /);
    expect(await upgradeStatus(base, '/ws/visitor')).toEqual({ status: 409, code: 'USERNAME_TAKEN' });
    expect(await a.next(/joined group/)).toBe("Client 'visitor' joined group 'lobby'");

    g.send('hello from a guest');
    expect(await a.next(/^Client 'visitor'/)).toBe("Client 'visitor': hello from a guest");
    a.send('/group welcome, visitor');
    expect(await g.next(/^Group message/)).toBe("Group message from client 'ann': welcome, visitor");
    expect(await g.ask('/my_groups', /^Your groups/)).toBe("Your groups: ['lobby']");
    expect(await g.ask('/group_members lobby', /^Members|Error/)).toBe("Members in group 'lobby': ['ann', 'visitor']");
    expect(await g.ask('/groups', /^Available/)).toBe('Available groups: [{"name": "lobby", "member_count": 2, "online": 2}]');
    expect(await g.ask('/join staff', /Joined|Error/)).toBe("Error: Cannot join group 'staff': guests join existing public groups only");
    expect(await g.ask('/join brand-new', /Joined|Error/)).toBe("Error: Cannot join group 'brand-new': guests join existing public groups only");
    expect(await g.ask('/group_members staff', /Members|Error/)).toBe("Error: No group 'staff'");

    expect(await g.ask('/send_to ann psst', /^Message sent|^Failed/)).toBe("Message sent to client 'ann'");
    expect(await a.next(/^Private/)).toBe("Private message from client 'visitor': psst");
    expect(await a.ask('/send_to visitor hi guest', /^Message sent|^Failed/)).toBe("Message sent to client 'visitor'");
    expect(await g.next(/^Private/)).toBe("Private message from client 'ann': hi guest");
    const clients = await api(base, 'GET', '/api/ws/clients', { token: ann.accessToken });
    expect(clients.body).toEqual({ clients: ['ann', 'visitor'], count: 2 });
    const rest = await api(base, 'GET', '/api/ws/groups/lobby', { token: ann.accessToken });
    expect(rest.body).toEqual({ group: 'lobby', members: ['ann', 'visitor'], count: 2 });

    // Guest messages are stored in the room like any other.
    const room = (await api(base, 'GET', '/api/chat/rooms', { token: ann.accessToken })).body.rooms.find((r: any) => r.name === 'lobby');
    const hist = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages`, { token: ann.accessToken });
    expect(hist.body.messages.map((m: any) => [m.sender, m.body])).toEqual([
      [{ id: null, name: 'visitor' }, 'hello from a guest'],
      [{ id: ann.user.id, name: 'ann' }, 'welcome, visitor'],
    ]);

    expect(await g.ask('/leave lobby', /Left|Error/)).toBe('Left group: lobby');
    expect(await a.next(/left group/)).toBe("Client 'visitor' left group 'lobby'");
    // A guest in no group: the sender hears its words back, nobody else hears them.
    expect(await g.ask('anyone?', /says|^Error/)).toBe("Client 'visitor' says: anyone?");
    // Sharing no group with ann any more, the guest may not learn whether she is online.
    expect(await g.ask('/send_to ann after that', /^Message sent|^Failed/)).toBe(
      "Failed to send message to client 'ann'. Client not found or disconnected.",
    );
    expect(a.lines.filter((l) => l.includes('anyone?'))).toEqual([]);
    // On the group path, /group speaks to that group only: none to fall back to.
    expect(await g.ask('/group anyone?', /^Error/)).toBe("Error: You are not in group 'lobby'");
    expect(await g.ask('/join lobby', /Joined|Error/)).toBe('Joined group: lobby');
    await g.close();
    expect(await a.next(/disconnected/)).toBe("Client 'visitor' has disconnected");
    // The id is free again.
    const again = await text('/ws/visitor');
    expect(await again.ask('/my_groups', /^Your groups/)).toBe('Your groups: []');
  });
});

describe('seed 004 heartbeats', () => {
  it('a guest loses its id once a user registers that name (4003); echo sockets are pinged like the rest', async () => {
    const server = await startTestServer('sqlite', { PLAZA_GUEST_CHAT: 'true', PLAZA_CHAT_HEARTBEAT_SECONDS: '1' });
    try {
      const g = await TextClient.open(server.url, '/ws/carol');
      await g.next(/^Connected as client 'carol'/);
      await registerAndLogin(server.url, 'carol');
      expect((await g.waitClosed(5000)).code).toBe(4003);

      // An echo peer that stops answering pings is dropped.
      const { default: WebSocket } = await import('ws');
      const echo = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, { autoPong: false });
      echo.on('error', () => {});
      await new Promise((r) => echo.once('open', r));
      const code = await new Promise<number>((resolve) => echo.once('close', (c) => resolve(c)));
      expect(code).toBe(1006);
    } finally {
      await server.close();
    }
  });
});
