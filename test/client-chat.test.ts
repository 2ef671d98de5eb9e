// plaza send and plaza chat (line mode: stdout is not a terminal) with the built binary: two users
// talking through a real server, presence lines, /commands, messages from stdin.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser, jsonOf, stubProfile } from './helpers/client.js';
import { serveProcess } from './helpers/process.js';
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

  it("another user's terminal escapes and control characters are shown, never run; a message over the limit is one sentence", async () => {
    const mia = await loggedIn('mia');
    const ned = await loggedIn('ned');
    await api(base, 'POST', '/api/chat/rooms', { json: { name: 'esc' }, headers: { authorization: `Bearer ${tokenOf(mia)}` } });
    const m = mia.start(['chat', 'esc'], { openStdin: true });
    let out = '';
    m.child.stdout?.on('data', (d) => {
      out += d;
    });
    debug = () => out;
    await until(() => out.includes('* connected as mia'), "mia's hello");
    expect((await ned.run(['send', 'esc'], { input: 'clear \u001b[2J\u001b]0;pwned\u0007 <script>alert(1)</script>' })).code).toBe(0);
    await until(() => out.includes('<ned> clear'), "ned's message");
    const line = out.split('\n').find((l) => l.includes('<ned> clear')) ?? '';
    expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(line).toContain('<script>alert(1)</script>');
    const huge = await ned.run(['send', 'esc', 'x'.repeat(20_000)]);
    expect(huge.code).not.toBe(0);
    expect(huge.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(huge.stderr).not.toMatch(/at .+\.m?js:\d+/);
    m.child.stdin?.end();
    expect((await m.done).code).toBe(0);
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

describe('plaza chat across a server restart', () => {
  it('reconnects: a message sent around the restart arrives once, one typed while down is resent and stored once', async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'plaza-chat-restart-')), 'data');
    const env = { PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent', PLAZA_DISK_RESERVE_BYTES: '65536', PLAZA_RATE_REGISTER_IP: '1000/1m' };
    let served = await serveProcess(env);
    const url = served.url;
    try {
      const mk = async (name: string) => {
        const u = clientUser(url);
        users.push(u);
        expect((await u.run(['register', name, '--password-stdin'], { input: PASSWORD })).code).toBe(0);
        return u;
      };
      const fay = await mk('fay');
      const gus = await mk('gus');
      const room = await api(url, 'POST', '/api/chat/rooms', { json: { name: 'ops' }, headers: { authorization: `Bearer ${tokenOf(fay)}` } });
      expect((await gus.run(['send', 'ops', 'before'])).code).toBe(0);
      const f = fay.start(['chat', 'ops'], { openStdin: true });
      let out = '';
      let err = '';
      f.child.stdout?.on('data', (d) => {
        out += d;
      });
      f.child.stderr?.on('data', (d) => {
        err += d;
      });
      debug = () => `out:\n${out}\nerr:\n${err}`;
      await until(() => out.includes('* connected as fay'), 'connected');

      served.child.kill('SIGTERM');
      await served.exited;
      await until(() => err.includes('connection lost'), 'the drop noticed');
      f.child.stdin?.write('written while down\n');
      served = await serveProcess({ ...env, PLAZA_PORT: String(served.port) });
      expect((await gus.run(['send', 'ops', 'missed while away'])).code).toBe(0);
      await until(() => out.includes('<gus> missed while away') && out.includes('<fay> written while down'), 'replay and resend', 20_000);
      expect(err).toContain('* reconnected');
      f.child.stdin?.end();
      expect((await f.done).code).toBe(0);
      expect(out.split('<gus> missed while away').length - 1).toBe(1);
      expect(out.split('<fay> written while down').length - 1).toBe(1);
      expect(out).not.toContain('<gus> before');
      const h = await api(url, 'GET', `/api/chat/rooms/${room.body.room.id}/messages`, { headers: { authorization: `Bearer ${tokenOf(gus)}` } });
      const bodies = h.body.messages.map((m: { body: string }) => m.body);
      expect(bodies.filter((b: string) => b === 'written while down')).toHaveLength(1);
      expect(bodies).toContain('missed while away');
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
      rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  }, 60_000);
});

// On a terminal (the full-screen view): test/client-chat-screen.test.ts drives it in tmux.

describe('plaza chat: a send the server cannot store yet (DATABASE_UNAVAILABLE)', () => {
  it('keeps the message pending and resends it with the same clientId after a backoff: stored once, shown once', async () => {
    const { createServer } = await import('node:http');
    const { WebSocketServer } = await import('ws');
    // A small Plaza stand-in: the chat socket only; its database refuses the first two tries.
    const room = { id: 7, name: 'lobby', kind: 'room', visibility: 'public', lastSeq: 0, role: 'member' };
    const http = createServer((q, r) => {
      if (q.url === '/api/chat/rooms' && q.headers.authorization === 'Bearer fake-token') r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rooms: [room] }));
      else r.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"No such thing"}}');
    });
    const wss = new WebSocketServer({ server: http, path: '/api/chat' });
    const sends: Array<{ at: number; clientId: string; ref?: string; body: string }> = [];
    wss.on('connection', (ws, req) => {
      if (req.headers.authorization !== 'Bearer fake-token') return ws.close(4001);
      ws.send(JSON.stringify({ type: 'hello', connectionId: 'c1', user: { id: 1, name: 'una' }, rooms: [room], heartbeatSeconds: 30 }));
      ws.on('message', (data) => {
        const f = JSON.parse(String(data));
        if (f.type !== 'send') return;
        sends.push({ at: Date.now(), clientId: f.clientId, ref: f.ref, body: f.body });
        if (sends.length === 1) ws.send(JSON.stringify({ type: 'error', code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; retry shortly', ref: f.ref, clientId: f.clientId, retryAfter: 1 }));
        else if (sends.length === 2) ws.send(JSON.stringify({ type: 'error', code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; retry shortly', clientId: f.clientId }));
        else {
          ws.send(JSON.stringify({ type: 'ack', ref: f.ref, id: 'msg_1', room: 7, seq: 1, clientId: f.clientId, duplicate: false }));
          ws.send(JSON.stringify({ type: 'message', id: 'msg_1', room: 7, seq: 1, sender: { id: 1, name: 'una' }, kind: 'text', body: f.body, createdAt: Date.now() }));
        }
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const a = http.address();
    const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    const u = clientUser(url);
    users.push(u);
    stubProfile(u, url, 'una', 'fake-token');
    try {
      const r = await u.run(['chat', 'lobby'], { input: 'once only\n' });
      expect(r.code).toBe(0);
      expect(sends).toHaveLength(3);
      expect(new Set(sends.map((x) => x.clientId)).size).toBe(1);
      expect(sends.every((x) => x.body === 'once only' && x.ref === x.clientId)).toBe(true);
      // retryAfter (1 s) is honoured, then the backoff's second step (2 s).
      expect((sends[1] as { at: number }).at - (sends[0] as { at: number }).at).toBeGreaterThanOrEqual(950);
      expect((sends[2] as { at: number }).at - (sends[1] as { at: number }).at).toBeGreaterThanOrEqual(1950);
      expect(r.stdout.split('<una> once only').length - 1).toBe(1);
      expect(r.stderr).toBe(
        "* the server's database is unavailable; your message is kept and goes again in 1 s\n" +
          "* the server's database is unavailable; your message is kept and goes again in 2 s\n",
      );
      expect(r.stdout).not.toContain('DATABASE_UNAVAILABLE');
    } finally {
      wss.close();
      http.close();
    }
  }, 30_000);
});
