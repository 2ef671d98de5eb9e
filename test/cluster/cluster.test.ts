import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD, registerAndLogin } from '../helpers/api.js';
import { ChatClient } from '../helpers/chat.js';
import { testDatabases } from '../helpers/databases.js';
import { uploadMultipart } from '../helpers/files.js';
import { serveProcess } from '../helpers/process.js';
import { startCluster, type TestCluster } from './cluster-helpers.js';

/** Redis and PostgreSQL are required in CI; elsewhere a missing one skips this file with a line. */
function clusterAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('redis-server is required in CI (.ci/run installs it)');
    console.warn('SKIPPING cluster tests: redis-server is not installed. They run in CI.');
    return false;
  }
}
const ready = (await testDatabases()).includes('postgres') && clusterAvailable();

/**
 * Two real instances (processes) on one PostgreSQL schema, one Redis of the test's own and one
 * data dir: what a user on one instance does is seen by users on the other.
 */
describe.skipIf(!ready)('two instances on PostgreSQL + Redis', () => {
  let cluster: TestCluster;
  let a: string;
  let b: string;
  const open: ChatClient[] = [];
  const connect = async (base: string, token: string) => {
    const c = await ChatClient.open(base, { token });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startCluster(2, { PLAZA_RATE_LOGIN_ACCOUNT_IP: '5/1m', PLAZA_PRESENCE_GRACE_SECONDS: '2' });
    [a, b] = cluster.instances.map((s) => s.url) as [string, string];
  }, 60_000);
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => {})));
    await cluster?.close();
  });

  it('a bearer token and a session cookie from A work on B; both report Redis up', async () => {
    const ann = await registerAndLogin(a, 'ann');
    const me = await api(b, 'GET', '/api/users/me', { token: ann.accessToken });
    expect([me.status, me.body.user?.username ?? me.body.username]).toEqual([200, 'ann']);
    const login = await api(a, 'POST', '/api/auth/login', { json: { identifier: 'ann', password: PASSWORD, session: 'cookie' } });
    const cookie = cookieFrom(login.headers, 'plaza_session') as string;
    const viaCookie = await api(b, 'GET', '/api/users/me', { cookie });
    expect([viaCookie.status, viaCookie.body.user?.username ?? viaCookie.body.username]).toEqual([200, 'ann']);
    for (const base of [a, b]) {
      const ready = await api(base, 'GET', '/api/ready');
      expect(ready.body).toMatchObject({ status: 'ready', redis: { status: 'up' } });
    }
  });

  it('room messages and DMs cross instances both ways, each once and in sequence order', async () => {
    const bob = await registerAndLogin(a, 'bob');
    const cat = await registerAndLogin(b, 'cat');
    const onA = await connect(a, bob.accessToken);
    const onB = await connect(b, cat.accessToken);
    const room = (await onA.request({ type: 'create', name: 'across' })).room.id;
    await onB.request({ type: 'join', room });
    // Both send at once: sequence numbers interleave between the instances.
    const sends = [];
    for (let i = 0; i < 40; i++) {
      sends.push(onA.request({ type: 'send', room, body: `a${i}`, clientId: `a${i}` }));
      sends.push(onB.request({ type: 'send', room, body: `b${i}`, clientId: `b${i}` }));
    }
    const acks = await Promise.all(sends);
    expect(acks.every((f) => f.type === 'ack')).toBe(true);
    for (const c of [onA, onB]) {
      const seen: number[] = [];
      while (seen.length < 80) seen.push((await c.next((f) => f.type === 'message' && f.room === room)).seq);
      expect(seen).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    }
    const dm = await api(b, 'POST', '/api/chat/dms', { token: cat.accessToken, json: { user: 'bob' } });
    expect(dm.status).toBeLessThan(300);
    const dmRoom = dm.body.room.id;
    await onB.request({ type: 'send', room: dmRoom, body: 'psst from B' });
    expect(await onA.next((f) => f.type === 'message' && f.room === dmRoom)).toMatchObject({ body: 'psst from B', sender: { name: 'cat' } });
    await onA.request({ type: 'send', room: dmRoom, body: 'reply from A' });
    expect(await onB.next((f) => f.type === 'message' && f.room === dmRoom && f.body === 'reply from A')).toMatchObject({ sender: { name: 'bob' } });
  });

  it('presence is the cluster\'s: joined on A is seen on B, counted once, online until the last instance lets go', async () => {
    const jon = await registerAndLogin(a, 'jon');
    const kim = await registerAndLogin(b, 'kim');
    const watcher = await connect(b, kim.accessToken);
    const room = (await watcher.request({ type: 'create', name: 'presence' })).room.id;
    const tabA = await connect(a, jon.accessToken);
    await tabA.request({ type: 'join', room });
    const t0 = Date.now();
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'jon')).toMatchObject({ event: 'joined', count: 2, room });
    expect(Date.now() - t0).toBeLessThan(1000);
    const seen = await api(b, 'GET', `/api/chat/users/${jon.user.id}/presence`, { token: kim.accessToken });
    expect(seen.body.presence).toBe('online');
    // A second tab on B, then the first one closes: still online, no "left".
    const tabB = await connect(b, jon.accessToken);
    await tabA.close();
    await new Promise((r) => setTimeout(r, 300));
    expect((await api(b, 'GET', `/api/chat/users/${jon.user.id}/presence`, { token: kim.accessToken })).body.presence).toBe('online');
    await tabB.close();
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'jon')).toMatchObject({ event: 'left', count: 1 });
    expect(watcher.take('presence').filter((f) => f.user.name === 'jon')).toEqual([]);
  });

  it('kill -9 of an instance: its clients resume on another exactly once; its users go disconnected, then offline, for the others', async () => {
    const c = await cluster.add();
    const lee = await registerAndLogin(c.url, 'lee');
    const mia = await registerAndLogin(a, 'mia');
    const onC = await ChatClient.open(c.url, { token: lee.accessToken });
    const watcher = await connect(a, mia.accessToken);
    const room = (await watcher.request({ type: 'create', name: 'crash' })).room.id;
    await onC.request({ type: 'join', room });
    await watcher.next((f) => f.type === 'presence' && f.user.name === 'lee' && f.event === 'joined');
    for (let i = 1; i <= 3; i++) await watcher.request({ type: 'send', room, body: `m${i}` });
    let last = 0;
    while (last < 3) last = (await onC.next((f) => f.type === 'message' && f.room === room)).seq;
    c.child.kill('SIGKILL');
    await c.exited;
    // Sent while lee is away.
    for (let i = 4; i <= 6; i++) await watcher.request({ type: 'send', room, body: `m${i}` });
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'lee', 8000)).toMatchObject({ event: 'disconnected' });
    // lee's client reconnects to B with its cursor: m4..m6 once, then live.
    const back = await ChatClient.open(b, { token: lee.accessToken }, `/api/chat?resume=${room}:${last}`);
    open.push(back);
    await watcher.request({ type: 'send', room, body: 'm7' });
    const bodies: string[] = [];
    while (bodies.length < 4) bodies.push((await back.next((f) => f.type === 'message' && f.room === room)).body);
    expect(bodies).toEqual(['m4', 'm5', 'm6', 'm7']);
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'lee')).toMatchObject({ event: 'rejoined' });
    await back.close();
    // Had lee not come back: offline after the 2 s grace period (a fresh kill shows it).
    const d = await cluster.add();
    const ned = await registerAndLogin(d.url, 'ned');
    const onD = await ChatClient.open(d.url, { token: ned.accessToken });
    await onD.request({ type: 'join', room });
    await watcher.next((f) => f.type === 'presence' && f.user.name === 'ned' && f.event === 'joined');
    d.child.kill('SIGKILL');
    await d.exited;
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'ned', 8000)).toMatchObject({ event: 'disconnected' });
    expect(await watcher.next((f) => f.type === 'presence' && f.user.name === 'ned', 5000)).toMatchObject({ event: 'offline' });
    expect((await api(a, 'GET', `/api/chat/users/${ned.user.id}/presence`, { token: mia.accessToken })).body.presence).toBe('offline');
  }, 60_000);

  it("server-side sends count deliveries on every instance; seed 004's client and group views are the cluster's", async () => {
    const ola = await registerAndLogin(a, 'ola');
    const pia = await registerAndLogin(b, 'pia');
    const olaA = await connect(a, ola.accessToken);
    const olaB1 = await connect(b, ola.accessToken);
    const olaB2 = await connect(b, ola.accessToken);
    const piaB = await connect(b, pia.accessToken);
    const room = (await olaA.request({ type: 'create', name: 'views' })).room.id;
    await piaB.request({ type: 'join', room });
    await new Promise((r) => setTimeout(r, 200));
    const sent = await api(a, 'POST', `/api/chat/users/${ola.user.id}/messages`, { token: ola.accessToken, json: { message: 'note to self' } });
    expect(sent.body).toEqual({ delivered: 3, presence: 'online' });
    for (const c of [olaA, olaB1, olaB2]) expect(await c.next((f) => f.type === 'direct')).toMatchObject({ text: 'note to self' });
    // pia, on B, sees ola (connected on A and B) among the clients she may know, and both online in the group.
    const clients = await api(b, 'GET', '/api/ws/clients', { token: pia.accessToken });
    expect(clients.body.clients).toEqual(expect.arrayContaining(['ola', 'pia']));
    const groups = await api(a, 'GET', '/api/ws/groups', { token: ola.accessToken });
    expect(groups.body.groups.find((g: any) => g.name === 'views')).toMatchObject({ members: 2, online: 2 });
  });

  it('membership changes made on A reach the member connected on B: joined, then removed', async () => {
    const rex = await registerAndLogin(a, 'rex');
    const sue = await registerAndLogin(b, 'sue');
    const onA = await connect(a, rex.accessToken);
    const onB = await connect(b, sue.accessToken);
    const room = (await onA.request({ type: 'create', name: 'invited', visibility: 'private' })).room.id;
    expect(await onA.request({ type: 'invite', room, user: 'sue' })).toMatchObject({ type: 'invited' });
    expect(await onB.request({ type: 'join', room })).toMatchObject({ type: 'joined' });
    await onA.request({ type: 'send', room, body: 'welcome, sue' });
    expect(await onB.next((f) => f.type === 'message' && f.room === room)).toMatchObject({ body: 'welcome, sue' });
    expect(await onA.request({ type: 'remove', room, user: sue.user.id })).toMatchObject({ type: 'removed' });
    await onB.next((f) => f.type === 'membership' && f.event === 'removed' && f.room.id === room);
    await onA.request({ type: 'send', room, body: 'after sue left' });
    await new Promise((r) => setTimeout(r, 500));
    expect(onB.take('message').filter((f) => f.room === room)).toEqual([]);
  });

  it('a chat ticket issued on A opens a socket on B, once', async () => {
    const dan = await registerAndLogin(a, 'dan');
    const t = await api(a, 'POST', '/api/chat/ticket', { token: dan.accessToken });
    const c = await ChatClient.open(b, { ticket: t.body.ticket });
    open.push(c);
    expect(c.hello.user.name).toBe('dan');
    await expect(ChatClient.open(a, { ticket: t.body.ticket })).rejects.toThrow('HTTP 401');
    await expect(ChatClient.open(b, { ticket: t.body.ticket })).rejects.toThrow('HTTP 401');
  });

  it('login failures count across instances: the limit holds whichever instance is asked', async () => {
    await registerAndLogin(a, 'eve');
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await api(i % 2 === 0 ? a : b, 'POST', '/api/auth/login', { json: { identifier: 'eve', password: 'wrong-password-1' } });
      statuses.push(r.status);
    }
    // This cluster allows 5 failures per account and network a minute (PLAZA_RATE_LOGIN_ACCOUNT_IP, beforeAll).
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
  });

  it("logout on A closes the user's socket on B at once", async () => {
    const fay = await registerAndLogin(a, 'fay');
    const onB = await connect(b, fay.accessToken);
    const t0 = Date.now();
    const out = await api(a, 'POST', '/api/auth/logout', { token: fay.accessToken });
    expect(out.status).toBeLessThan(300);
    const closed = await onB.waitClosed(5000);
    expect(closed.code).toBe(4001);
    // The heartbeat is 30 s: this was the revocation, pushed.
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a file uploaded on A downloads on B, byte for byte', async () => {
    const gus = await registerAndLogin(a, 'gus');
    const data = randomBytes(300_000);
    const up = await uploadMultipart(a, gus.accessToken, [{ name: 'shared.bin', data }]);
    expect(up.status).toBe(201);
    const res = await fetch(`${b}/api/files/${up.body.files[0].id}/content`, { headers: { authorization: `Bearer ${gus.accessToken}` } });
    expect(res.status).toBe(200);
    const got = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it("an instance whose uploads directory is not the cluster's refuses to start, saying why", async () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'plaza-other-'));
    const other = await startCluster(1);
    try {
      // The same database and Redis, but a local (empty) data dir: its files would be "missing".
      await expect(serveProcess({ ...cluster.env, PLAZA_DATA_DIR: elsewhere })).rejects.toThrow(/is not this cluster's uploads directory/);
      // Another cluster's uploads directory.
      await expect(serveProcess({ ...cluster.env, PLAZA_DATA_DIR: other.dataDir })).rejects.toThrow(/holds the uploads of another database/);
    } finally {
      await other.close();
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 60_000);

  it('Redis restarted mid-conversation: instances say degraded, keep serving, and no acked message is lost', async () => {
    const hal = await registerAndLogin(a, 'hal');
    const ivy = await registerAndLogin(b, 'ivy');
    const onA = await connect(a, hal.accessToken);
    const onB = await connect(b, ivy.accessToken);
    const room = (await onA.request({ type: 'create', name: 'outage' })).room.id;
    await onB.request({ type: 'join', room });
    await onA.request({ type: 'send', room, body: 'before' });
    expect((await onB.next((f) => f.type === 'message' && f.room === room)).body).toBe('before');
    await cluster.redis.stop();
    // Sends still succeed (the database is up); they cannot cross while Redis is away.
    const during = await onA.request({ type: 'send', room, body: 'during' });
    expect(during.type).toBe('ack');
    const health = await api(b, 'GET', '/api/ready');
    expect([health.status, health.body.status, health.body.redis]).toEqual([200, 'degraded', { status: 'down' }]);
    expect((await api(b, 'GET', '/api/users/me', { token: ivy.accessToken })).status).toBe(200);
    await cluster.redis.restart();
    // Back: the next message crosses, and the one sent during the outage is filled in before it.
    const deadline = Date.now() + 10_000;
    while ((await api(a, 'GET', '/api/ready')).body.redis?.status !== 'up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    await onA.request({ type: 'send', room, body: 'after' });
    const seen = [];
    while (seen.length < 2) seen.push((await onB.next((f) => f.type === 'message' && f.room === room, 8000)).body);
    expect(seen).toEqual(['during', 'after']);
  }, 60_000);
});

describe.skipIf(!ready)('jobs that must run once, with two instances', () => {
  it('a scheduled backup runs on one instance per slot, not on both', async () => {
    const cluster = await startCluster(2, { PLAZA_BACKUP_SCHEDULE: '*/2 * * * * *', PLAZA_BACKUP_KEEP: '0' });
    try {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 7000));
      const t1 = Date.now();
      const names = readdirSync(path.join(cluster.dataDir, 'backups')).filter((n) => /^plaza-backup-\d{8}T\d{9}Z\.tar$/.test(n)).sort();
      const times = names.map((n) => {
        const m = /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(n) as RegExpExecArray;
        return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!);
      });
      // While both were up: one archive per two-second slot, never two in one slot.
      const whileBoth = times.filter((t) => t >= t0 && t <= t1).length;
      expect(whileBoth).toBeGreaterThanOrEqual(2);
      expect(whileBoth).toBeLessThanOrEqual(4);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(1000);
    } finally {
      await cluster.close();
    }
  }, 60_000);
});
