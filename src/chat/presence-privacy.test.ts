import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from '../../test/helpers/api.js';
import { ChatClient } from '../../test/helpers/chat.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

type Who = 'ann' | 'bob' | 'dan' | 'eve' | 'boss';

/**
 * ann and bob share a room; ann and dan share a direct-message room; eve shares nothing; boss is a
 * site admin. Everyone but boss is online.
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
    expect((await api(base, 'POST', '/api/chat/dms', { token: token.ann, json: { user: 'dan' } })).status).toBe(200);
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
