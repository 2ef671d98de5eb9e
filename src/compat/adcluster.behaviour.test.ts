import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { TextClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { AppError } from '../shared/errors.js';

/**
 * Seed 004 fixes (issue 14 follow-up): presence privacy of /send_to and /groups, `/group` on a
 * group path after leaving that group, one copy per recipient of a send to several shared groups,
 * and a JSON answer to a plain GET on the WebSocket-only paths.
 */
const WELCOME = /^Connected as client '([^']+)'(?: in group '([^']+)')?\. Commands: /;
const FAILED = (id: string) => `Failed to send message to client '${id}'. Client not found or disconnected.`;

describe.each(await testDatabases())('seed 004 behaviour fixes (%s)', (db) => {
  let server: TestServer;
  let base: string;
  type Login = Awaited<ReturnType<typeof registerAndLogin>>;
  let ann: Login;
  let bob: Login;
  let eve: Login;
  let boss: { accessToken: string; user: { username: string } };
  const open: TextClient[] = [];
  const seed = async (who: { accessToken: string; user: { username: string } }, group?: string) => {
    const c = await TextClient.open(base, `/ws/${who.user.username}${group ? `/${group}` : ''}`, { token: who.accessToken });
    open.push(c);
    await c.next(WELCOME);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: 'boss-password-1' });
    base = server.url;
    ann = await registerAndLogin(base, 'ann');
    bob = await registerAndLogin(base, 'bob');
    eve = await registerAndLogin(base, 'eve');
    const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: 'boss-password-1' } });
    boss = login.body;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(() => server.close());

  it('/send_to answers an online user who shares no group with the sender like an unknown one, and delivers nothing', async () => {
    const b = await seed(bob, 'priv-pair');
    const a = await seed(ann, 'priv-pair');
    const e = await seed(eve);
    const admin = await seed(boss);
    expect(await e.ask('/send_to bob are you online?', /^Message sent|^Failed|^Error/)).toBe(FAILED('bob'));
    expect(await e.ask('/send_to nobody-here hello', /^Message sent|^Failed|^Error/)).toBe(FAILED('nobody-here'));
    expect(await a.ask('/send_to bob hi pair', /^Message sent|^Failed|^Error/)).toBe("Message sent to client 'bob'");
    expect(await b.next(/^Private/)).toBe("Private message from client 'ann': hi pair");
    // A site admin may reach anyone.
    expect(await admin.ask('/send_to eve from the admin', /^Message sent|^Failed|^Error/)).toBe("Message sent to client 'eve'");
    expect(await e.next(/^Private/)).toBe("Private message from client 'boss': from the admin");
    expect(b.lines.filter((l) => l.includes('are you online?'))).toEqual([]);
  });

  it('REST send_to gives a non-admin the same answer for an online stranger as for an unknown user', async () => {
    await seed(bob, 'priv-rest');
    const send = (to: string, token: string) => api(base, 'POST', `/api/ws/send_to/${to}`, { token, json: { message: 'x' } });
    for (const prefix of ['/api', '']) {
      const post = (to: string) => api(base, 'POST', `${prefix}/ws/send_to/${to}`, { token: eve.accessToken, json: { message: 'x' } });
      const stranger = await post('bob');
      const unknown = await post('ghost');
      expect(stranger.status).toBe(unknown.status);
      expect(stranger.text).toBe(unknown.text);
    }
    expect((await send('bob', boss.accessToken)).body).toMatchObject({ delivered: 1, success: true });
  });

  it('/groups shows online counts only for the caller’s own groups (REST and WebSocket)', async () => {
    const joined = [await seed(ann, 'priv-groups'), await seed(bob, 'priv-groups')];
    // The welcome comes before a connection's groups are loaded; a command is answered only after.
    for (const c of joined) await c.ask('/groups', /^Available groups/);
    const rest = async (token: string) =>
      (await api(base, 'GET', '/api/ws/groups', { token })).body.groups.find((g: any) => g.name === 'priv-groups');
    expect(await rest(ann.accessToken)).toEqual({ name: 'priv-groups', members: 2, online: 2 });
    expect(await rest(eve.accessToken)).toEqual({ name: 'priv-groups', members: 2 });
    const e = await seed(eve);
    const groups = await e.ask('/groups', /^Available groups/);
    expect(groups).toContain('{"name": "priv-groups", "member_count": 2}');
    const a = await seed(ann);
    expect(await a.ask('/groups', /^Available groups/)).toContain('{"name": "priv-groups", "member_count": 2, "online": 2}');
  });

  it("/group on /ws/{client_id}/{group} after leaving that group is an error, not a send to the user's other groups", async () => {
    const a = await seed(ann, 'gone-x');
    expect(await a.ask('/join gone-y', /Joined|Error/)).toBe('Joined group: gone-y');
    const b = await seed(bob, 'gone-y');
    expect(await a.ask('/leave gone-x', /Left|Error/)).toBe('Left group: gone-x');
    expect(await a.ask('/group only for x', /only for x|^Error/)).toBe("Error: You are not in group 'gone-x'");
    // Plain text still goes to the groups the connection follows.
    b.send('marker');
    await a.next("Client 'bob': marker");
    expect(b.lines.filter((l) => l.includes('only for x'))).toEqual([]);
    // Back in the group, /group works again.
    expect(await a.ask('/join gone-x', /Joined|Error/)).toBe('Joined group: gone-x');
    expect(await a.ask('/group back in x', /back in x|^Error/)).toBe("Group message from client 'ann': back in x");
  });

  it('a send to several shared groups reaches each recipient connection once', async () => {
    // No group path: /group goes to every group of the sender, like plain text.
    const a = await seed(ann);
    await a.ask('/join twice-1', 'Joined group: twice-1');
    await a.ask('/join twice-2', 'Joined group: twice-2');
    const b = await seed(bob, 'twice-1');
    await b.ask('/join twice-2', 'Joined group: twice-2');
    a.send('plain to both');
    a.send('/group grouped to both');
    // Each room keeps its order: once the last one arrived, the earlier ones had.
    a.send('last one');
    await b.next("Client 'ann': last one");
    await a.next("Client 'ann': last one");
    expect(b.take(/to both/)).toEqual(["Client 'ann': plain to both", "Group message from client 'ann': grouped to both"]);
    expect(a.take(/to both/)).toEqual(["Client 'ann': plain to both", "Group message from client 'ann': grouped to both"]);
    // Each group still holds its own copy (native clients see both rooms).
    const rooms = (await api(base, 'GET', '/api/chat/rooms', { token: bob.accessToken })).body.rooms;
    for (const name of ['twice-1', 'twice-2']) {
      const room = rooms.find((r: any) => r.name === name);
      const hist = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages`, { token: bob.accessToken });
      expect(hist.body.messages.map((m: any) => m.body)).toEqual(expect.arrayContaining(['plain to both', 'grouped to both']));
    }
  });

  it('a command failing because the database is unavailable says so; a fault stays masked', async () => {
    const a = await seed(ann);
    const rooms = server.core.chat.rooms;
    const real = rooms.joinOrCreateByName;
    try {
      rooms.joinOrCreateByName = async () => {
        throw new AppError('DATABASE_UNAVAILABLE', 'The database is unavailable; retry shortly');
      };
      expect(await a.ask('/join later', /Joined|^Error/)).toBe('Error: The database is unavailable; retry shortly');
      rooms.joinOrCreateByName = async () => {
        throw new Error('secret internals');
      };
      expect(await a.ask('/join later', /Joined|^Error/)).toBe('Error: Something went wrong; try again');
    } finally {
      rooms.joinOrCreateByName = real;
    }
  });

  it('a plain GET (no Upgrade) on a WebSocket-only path answers 426 in the JSON error shape, with no side effects', async () => {
    for (const path of ['/ws', '/api/ws', '/ws/ann', '/api/ws/ann', '/ws/ann/get-made', '/api/ws/ann/get-made']) {
      const res = await api(base, 'GET', path, { token: ann.accessToken });
      expect(res.status, path).toBe(426);
      expect(res.headers.get('upgrade'), path).toBe('websocket');
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(res.body.error.code, path).toBe('UPGRADE_REQUIRED');
      expect(res.body.error.message, path).toMatch(/WebSocket/);
    }
    // Without a login too (the upgrade is what is missing, whoever asks).
    expect((await api(base, 'GET', '/ws/someone')).status).toBe(426);
    // The group path did not create or join the group.
    const rooms = (await api(base, 'GET', '/api/chat/rooms', { token: ann.accessToken })).body.rooms;
    expect(rooms.find((r: any) => r.name === 'get-made')).toBeUndefined();
    // The REST routes sharing the /ws/ prefix are unchanged.
    expect((await api(base, 'GET', '/ws/clients', { token: boss.accessToken })).status).toBe(200);
  });
});
