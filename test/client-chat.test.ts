// plaza send and plaza chat (line mode: stdout is not a terminal) with the built binary: two users
// talking through a real server, presence lines, /commands, messages from stdin.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser, jsonOf } from './helpers/client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;
const users: ClientUser[] = [];

async function loggedIn(name: string): Promise<ClientUser> {
  const u = clientUser(base);
  users.push(u);
  const r = await u.run(['register', name, '--password-stdin'], { input: PASSWORD });
  if (r.code !== 0) throw new Error(r.stderr);
  return u;
}
const tokenOf = (u: ClientUser) => JSON.parse(readFileSync(path.join(u.configDir, 'plaza', 'profile.json'), 'utf8')).accessToken as string;

let debug = () => "";
async function until(check: () => boolean, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${debug()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  for (const u of users) u.cleanup();
  await server.close();
});

describe('plaza send', () => {
  it('to a room by name (joined when public), to @user, from stdin; bad targets are exit 4 and 2', async () => {
    const ann = await loggedIn('ann');
    const ben = await loggedIn('ben');
    const room = await api(base, 'POST', '/api/chat/rooms', { json: { name: 'lobby' }, headers: { authorization: `Bearer ${tokenOf(ann)}` } });
    expect(room.status).toBe(201);
    const toRoom = await ben.run(['send', 'lobby', 'hello', 'lobby']);
    expect(toRoom.stderr).toBe('');
    expect(toRoom.code).toBe(0);
    expect(toRoom.stdout).toMatch(/^Sent to #lobby \(message 1, delivered to \d+ connections?\)\.\n$/);
    const dm = jsonOf(await ben.run(['send', '@ann', '--json'], { input: 'a line\nand another\n' }));
    expect(dm).toMatchObject({ room: { kind: 'dm' }, message: { body: 'a line\nand another', sender: { name: 'ben' } } });
    const history = await api(base, 'GET', `/api/chat/rooms/${room.body.room.id}/messages`, { headers: { authorization: `Bearer ${tokenOf(ann)}` } });
    expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual(['hello lobby']);
    expect((await ben.run(['send', 'nowhere', 'x'])).code).toBe(4);
    expect((await ben.run(['send', '@nobody-here', 'x'])).code).toBe(4);
    expect((await ben.run(['send', 'lobby'])).code).toBe(2);
  });
});

describe('plaza chat (line mode)', () => {
  it('two users talk: lines on stdout, presence, /who, messages from stdin, clean exit at end of input', async () => {
    const cleo = await loggedIn('cleo');
    const dan = await loggedIn('dan');
    const team = await api(base, 'POST', '/api/chat/rooms', { json: { name: 'team' }, headers: { authorization: `Bearer ${tokenOf(cleo)}` } });
    const c = cleo.start(['chat', 'team'], { openStdin: true });
    let cOut = '';
    c.child.stdout?.on('data', (d) => {
      cOut += d;
    });
    await until(() => cOut.includes('* connected as cleo; talking in #team'), "cleo's hello");
    const d = dan.start(['chat', 'team'], { openStdin: true });
    let dOut = '';
    d.child.stdout?.on('data', (x) => {
      dOut += x;
    });
    debug = () => `cleo:\n${cOut}\ndan:\n${dOut}`;
    await until(() => dOut.includes('* connected as dan'), "dan's hello");
    await until(() => cOut.includes('* dan joined #team'), 'presence: dan joined');
    d.child.stdin?.write('hi cleo\n');
    await until(() => /\[\d\d:\d\d\] #team <dan> hi cleo\n/.test(cOut), "dan's message at cleo");
    c.child.stdin?.write('/who\n');
    await until(() => /\* in #team: .*cleo/.test(cOut) && cOut.includes('dan'), '/who');
    c.child.stdin?.write('/bogus\n');
    c.child.stdin?.write('hello dan\n');
    await until(() => dOut.includes('<cleo> hello dan'), "cleo's message at dan");
    d.child.stdin?.end('bye now\n');
    const dRun = await d.done;
    expect(dRun.code).toBe(0);
    expect(dRun.stderr).toBe('');
    await until(() => cOut.includes('<dan> bye now') && cOut.includes('* dan left #team'), "dan's goodbye");
    c.child.stdin?.end('/quit\n');
    const cRun = await c.done;
    expect(cRun.code).toBe(0);
    expect(cRun.stderr).toContain('! unknown or incomplete command "/bogus"');
    // Every message was stored once.
    const h = await api(base, 'GET', `/api/chat/rooms/${team.body.room.id}/messages`, { headers: { authorization: `Bearer ${tokenOf(cleo)}` } });
    expect(h.body.messages.map((m: { body: string }) => m.body)).toEqual(['hi cleo', 'hello dan', 'bye now']);
  }, 30_000);

  it('--json prints the frames; a forged token is exit 6', async () => {
    const eve = await loggedIn('eve');
    const r = await eve.run(['chat', '--json'], { input: '' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.split('\n')[0] ?? '')).toMatchObject({ type: 'hello', user: { name: 'eve' } });
    const file = path.join(eve.configDir, 'plaza', 'profile.json');
    const p = JSON.parse(readFileSync(file, 'utf8'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify({ ...p, accessToken: 'forged', refreshToken: 'forged' }), { mode: 0o600 });
    const bad = await eve.run(['chat']);
    expect(bad.code).toBe(6);
  });
});
