import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

type Who = 'ann' | 'bob' | 'dan' | 'eve' | 'boss';

/**
 * ann and bob share a room; ann and dan share a direct-message room (ann opened it, dan wrote in
 * it); eve shares nothing; boss is a site admin. Everyone but boss is online.
 */
describe.each(await testDatabases())('presence is shown only to those who share a room (%s)', (db) => {
  let server: TestServer;
  let base: string;
  const token = {} as Record<Who, string>;
  const id = {} as Record<Who, number>;
  const sockets: ChatClient[] = [];

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: 'boss-password-1' });
    base = server.url;
    for (const name of ['ann', 'bob', 'dan', 'eve'] as const) {
      const login = await registerAndLogin(base, name);
      token[name] = login.accessToken;
      id[name] = login.user.id;
    }
    const boss = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: 'boss-password-1' } });
    token.boss = boss.body.accessToken;
    id.boss = boss.body.user.id;
    const room = await api(base, 'POST', '/api/chat/rooms', { token: token.ann, json: { name: 'pair' } });
    expect((await api(base, 'POST', `/api/chat/rooms/${room.body.room.id}/join`, { token: token.bob })).status).toBe(200);
    const dm = await api(base, 'POST', '/api/chat/dms', { token: token.ann, json: { user: 'dan' } });
    expect(dm.status).toBe(200);
    // A DM counts as shared once both took part: dan answers.
    expect((await api(base, 'POST', `/api/chat/rooms/${dm.body.room.id}/messages`, { token: token.dan, json: { body: 'hi ann' } })).status).toBe(201);
    for (const name of ['ann', 'bob', 'dan', 'eve'] as const) sockets.push(await ChatClient.open(base, { token: token[name] }));
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await server.close();
  });

  const unknownUser = async () => (await api(base, 'GET', '/api/chat/users/999999/presence', { token: token.eve })).text;

  it.each([
    ['ann', 'bob', true],
    ['bob', 'ann', true],
    ['ann', 'dan', true],
    ['dan', 'ann', true],
    ['eve', 'eve', true],
    ['boss', 'eve', true],
    ['boss', 'ann', true],
    ['eve', 'ann', false],
    ['eve', 'bob', false],
    ['ann', 'eve', false],
    ['bob', 'dan', false],
    ['dan', 'bob', false],
  ] as Array<[Who, Who, boolean]>)('%s asking for %s’s presence: visible %s', async (viewer, target, visible) => {
    const res = await api(base, 'GET', `/api/chat/users/${id[target]}/presence`, { token: token[viewer] });
    if (visible) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ presence: 'online', connections: 1 });
    } else {
      // Exactly what an unknown user gets: no way to tell "offline" from "not yours to know".
      expect(res.status).toBe(404);
      expect(res.text).toBe(await unknownUser());
    }
  });

  it.each([
    ['ann', ['ann', 'bob', 'dan']],
    ['bob', ['ann', 'bob']],
    ['dan', ['ann', 'dan']],
    ['eve', ['eve']],
    ['boss', ['ann', 'bob', 'dan', 'eve']],
  ] as Array<[Who, string[]]>)('seed 004 clients list for %s: only those sharing a room (admins: all)', async (viewer, clients) => {
    for (const path of ['/api/ws/clients', '/ws/clients']) {
      const res = await api(base, 'GET', path, { token: token[viewer] });
      expect(res.status, path).toBe(200);
      expect(res.body, path).toEqual({ clients, count: clients.length });
    }
  });
});

type Who2 = 'gus' | 'fay' | 'hal' | 'ivy' | 'kim' | 'lee' | 'ann' | 'bob' | 'eve' | 'boss';

/**
 * A direct message counts as a shared room only once the other person has taken part (opened it
 * themselves, or written in it): gus opened one with fay, who never answered; hal and ivy both
 * opened theirs; kim opened one with lee, who wrote in it. In the public room "lobby" (ann's, bob
 * joined) eve is no member; boss is a site admin who never joined. Everyone is online.
 */
describe.each(await testDatabases())('direct messages and public member lists do not leak presence (%s)', (db) => {
  let server: TestServer;
  let base: string;
  const token = {} as Record<Who2, string>;
  const id = {} as Record<Who2, number>;
  const sockets = {} as Record<Who2, ChatClient>;
  const dm = {} as Record<'gusFay' | 'halIvy' | 'kimLee', number>;
  let lobby: number;

  const openDm = async (from: Who2, to: Who2) => {
    const res = await api(base, 'POST', '/api/chat/dms', { token: token[from], json: { user: to } });
    expect(res.status).toBe(200);
    return res.body.room.id as number;
  };

  beforeAll(async () => {
    server = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: 'boss-password-1' });
    base = server.url;
    for (const name of ['gus', 'fay', 'hal', 'ivy', 'kim', 'lee', 'ann', 'bob', 'eve'] as const) {
      const login = await registerAndLogin(base, name);
      token[name] = login.accessToken;
      id[name] = login.user.id;
    }
    const boss = await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: 'boss-password-1' } });
    token.boss = boss.body.accessToken;
    id.boss = boss.body.user.id;
    dm.gusFay = await openDm('gus', 'fay');
    dm.halIvy = await openDm('hal', 'ivy');
    expect(await openDm('ivy', 'hal')).toBe(dm.halIvy);
    dm.kimLee = await openDm('kim', 'lee');
    expect((await api(base, 'POST', `/api/chat/rooms/${dm.kimLee}/messages`, { token: token.lee, json: { body: 'hi kim' } })).status).toBe(201);
    const room = await api(base, 'POST', '/api/chat/rooms', { token: token.ann, json: { name: 'lobby' } });
    lobby = room.body.room.id;
    expect((await api(base, 'POST', `/api/chat/rooms/${lobby}/join`, { token: token.bob })).status).toBe(200);
    for (const name of Object.keys(token) as Who2[]) sockets[name] = await ChatClient.open(base, { token: token[name] });
  });
  afterAll(async () => {
    await Promise.all(Object.values(sockets).map((s) => s.close()));
    await server.close();
  });

  it.each([
    ['gus', 'fay', false],
    ['fay', 'gus', true],
    ['hal', 'ivy', true],
    ['ivy', 'hal', true],
    ['kim', 'lee', true],
    ['lee', 'kim', true],
    ['boss', 'fay', true],
  ] as Array<[Who2, Who2, boolean]>)('%s asking for %s’s presence: visible %s', async (viewer, target, visible) => {
    const res = await api(base, 'GET', `/api/chat/users/${id[target]}/presence`, { token: token[viewer] });
    expect(res.status).toBe(visible ? 200 : 404);
  });

  it.each([
    ['gus', ['gus']],
    ['fay', ['fay', 'gus']],
    ['hal', ['hal', 'ivy']],
    ['kim', ['kim', 'lee']],
  ] as Array<[Who2, string[]]>)('the rooms that show %s others’ presence hold only those who took part', async (viewer, seen) => {
    const user = (await server.core.users.findById(id[viewer]))!;
    const names = new Set<string>([viewer]);
    for (const room of await server.core.chat.rooms.presenceRoomsOf(server.core.chat.participantOf(user))) {
      for (const m of await server.core.chat.rooms.members(user, room.id)) names.add(m.username);
    }
    expect([...names].sort()).toEqual(seen);
  });

  // Needs chat.service.ts's visibleOnline to iterate rooms.presenceRoomsOf(self) instead of
  // rooms.roomsOf(self) (that file is wired by the lead): un-skip then. Today gus sees fay.
  it.each([
    ['gus', ['gus']],
    ['fay', ['fay', 'gus']],
    ['hal', ['hal', 'ivy']],
  ] as Array<[Who2, string[]]>)('seed 004 clients list for %s: a DM counts once the other took part', async (viewer, clients) => {
    const res = await api(base, 'GET', '/api/ws/clients', { token: token[viewer] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ clients, count: clients.length });
  });

  const membersOver = async (who: Who2, room: number) => {
    const reply = await sockets[who].request({ type: 'members', room });
    expect(reply.type).toBe('members');
    return reply.members as Array<{ username: string; presence?: string }>;
  };

  it('a DM opened unilaterally shows its opener, but not the silent member’s presence, to the opener', async () => {
    const forGus = await membersOver('gus', dm.gusFay);
    expect(forGus.find((m) => m.username === 'gus')?.presence).toBe('online');
    expect(forGus.find((m) => m.username === 'fay')).not.toHaveProperty('presence');
    const forFay = await membersOver('fay', dm.gusFay);
    expect(forFay.map((m) => m.presence)).toEqual(['online', 'online']);
  });

  it('public room members over REST: a non-member sees no presence, a member does', async () => {
    const res = await api(base, 'GET', `/api/chat/rooms/${lobby}/members`, { token: token.eve });
    expect(res.status).toBe(200);
    expect(res.body.members.map((m: any) => m.username)).toEqual(['ann', 'bob']);
    for (const m of res.body.members) expect(m).not.toHaveProperty('presence');
    const forBob = await api(base, 'GET', `/api/chat/rooms/${lobby}/members`, { token: token.bob });
    expect(forBob.body.members.map((m: any) => m.presence)).toEqual(['online', 'online']);
  });

  it.each([
    ['ann', true],
    ['bob', true],
    ['boss', true],
    ['eve', false],
  ] as Array<[Who2, boolean]>)('public room members: %s (member or admin: %s) sees their presence over the socket', async (viewer, shown) => {
    const list = await membersOver(viewer, lobby);
    expect(list.map((m) => m.username)).toEqual(['ann', 'bob']);
    for (const m of list) {
      if (shown) expect(m.presence).toBe('online');
      else expect(m).not.toHaveProperty('presence');
    }
  });
});
