import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from './helpers/api.js';
import { ChatClient } from './helpers/chat.js';
import { LOST_SEQ_GAP } from '../src/chat/messages.service.js';
import { serveProcess } from './helpers/process.js';
import { startTestServer } from './helpers/server.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-chat-crash-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function allMessages(base: string, token: string, room: number) {
  const out: any[] = [];
  let before: number | undefined;
  for (;;) {
    const q = before === undefined ? '?limit=200' : `?limit=200&before=${before}`;
    const page = await api(base, 'GET', `/api/chat/rooms/${room}/messages${q}`, { token });
    expect(page.status).toBe(200);
    out.unshift(...page.body.messages);
    if (!page.body.hasMore) return out;
    before = page.body.messages[0].seq;
  }
}

describe('kill -9 in the middle of a conversation', () => {
  it('keeps every acknowledged message exactly once; resends with the same client ids do not duplicate', async () => {
    const env = { PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'warn', PLAZA_CHAT_FRAMES_PER_10S: '100000' };
    const first = await serveProcess(env);
    const ann = await registerAndLogin(first.url, 'ann');
    const bob = await registerAndLogin(first.url, 'bob');
    const a = await ChatClient.open(first.url, { token: ann.accessToken });
    const b = await ChatClient.open(first.url, { token: bob.accessToken });
    const room = (await a.request({ type: 'create', name: 'doomed' })).room.id;
    await b.request({ type: 'join', room });

    const acked = new Map<string, { id: string; seq: number }>();
    a.ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'ack') acked.set(f.clientId, { id: f.id, seq: f.seq });
    });
    // Two writers keep sending while the process is killed.
    const total = 3000;
    for (let i = 0; i < total; i++) {
      a.send({ type: 'send', room, body: `ann ${i}`, clientId: `ann-${i}` });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      if (i === 1500) break;
    }
    const deadline = Date.now() + 10_000;
    while (acked.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    first.child.kill('SIGKILL');
    await first.exited;
    const ackedBeforeCrash = new Map(acked);
    expect(ackedBeforeCrash.size).toBeGreaterThanOrEqual(300);

    const second = await serveProcess(env);
    try {
      const login = await api(second.url, 'POST', '/api/auth/login', { json: { identifier: 'ann', password: 'correct-horse-9' } });
      const token = login.body.accessToken as string;
      const stored = await allMessages(second.url, token, room);
      const ids = stored.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      const seqs = stored.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      const byClient = new Map(stored.map((m) => [m.clientId, m]));
      for (const [clientId, ack] of ackedBeforeCrash) {
        expect(byClient.get(clientId)).toMatchObject({ id: ack.id, seq: ack.seq });
      }

      // The client resends everything it has no ack for, plus a few it has: no duplicates.
      const a2 = await ChatClient.open(second.url, { token });
      const resend = [...Array(1501).keys()].filter((i) => !ackedBeforeCrash.has(`ann-${i}`) || i < 5);
      // In windows of 200: a connection may have at most 256 frames waiting to be handled.
      for (let w = 0; w < resend.length; w += 200) {
        const window = resend.slice(w, w + 200);
        for (const i of window) a2.send({ type: 'send', room, body: `ann ${i}`, clientId: `ann-${i}` });
        const last = window[window.length - 1];
        await a2.next((f) => f.type === 'ack' && f.clientId === `ann-${last}`, 20_000);
      }
      await new Promise((r) => setTimeout(r, 300));
      const after = await allMessages(second.url, token, room);
      expect(after).toHaveLength(1501);
      expect(new Set(after.map((m) => m.clientId)).size).toBe(1501);
      expect(after.map((m) => m.seq)).toEqual([...Array(1501).keys()].map((i) => i + 1));
      await a2.close();
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 60_000);
});

describe('the machine went down under the server (SQLite)', () => {
  it('skips 10,000 sequence numbers so none a client may have seen is reused; a process crash does not', async () => {
    const first = await startTestServer('sqlite');
    const dir = first.dataDir;
    const ann = await registerAndLogin(first.url, 'ann');
    const send = async (base: string, room: number, body: string) => {
      const c = await ChatClient.open(base, { token: ann.accessToken });
      try {
        return (await c.request({ type: 'send', room, body })).seq as number;
      } finally {
        await c.close();
      }
    };
    const a = await ChatClient.open(first.url, { token: ann.accessToken });
    const room = (await a.request({ type: 'create', name: 'lost' })).room.id as number;
    await a.close();
    expect(await send(first.url, room, 'one')).toBe(1);
    await first.app.close();
    await first.core.close();

    // A marker of a process from another boot: the machine went down while it had the file open.
    writeFileSync(path.join(dir, 'plaza.db.open-999999'), 'an-earlier-boot');
    const second = await startTestServer('sqlite', { PLAZA_DATA_DIR: dir });
    expect(await send(second.url, room, 'two')).toBe(2 + LOST_SEQ_GAP);
    await second.app.close();
    await second.core.close();

    // A clean restart (or a killed process on the same boot) continues without a gap.
    const third = await startTestServer('sqlite', { PLAZA_DATA_DIR: dir });
    try {
      expect(await send(third.url, room, 'three')).toBe(3 + LOST_SEQ_GAP);
      const history = await api(third.url, 'GET', `/api/chat/rooms/${room}/messages`, { token: ann.accessToken });
      expect(history.body.messages.map((m: { body: string }) => m.body)).toEqual(['one', 'two', 'three']);
    } finally {
      await third.close();
    }
  });
});

describe('the disk refuses to sync (SQLite)', () => {
  it('shows the message to members, refuses the ack, stays refusing, turns health red, and the next start skips sequences', async () => {
    const first = await startTestServer('sqlite');
    const dir = first.dataDir;
    const ann = await registerAndLogin(first.url, 'ann');
    const bob = await registerAndLogin(first.url, 'bob');
    const a = await ChatClient.open(first.url, { token: ann.accessToken });
    const b = await ChatClient.open(first.url, { token: bob.accessToken });
    const room = (await a.request({ type: 'create', name: 'fragile' })).room.id as number;
    await b.request({ type: 'join', room });
    // SQLite keeps writing through its open descriptor; a directory now sits where the WAL's name
    // was, so Plaza's fsync of the WAL fails, as a failing disk would.
    const wal = path.join(dir, 'plaza.db-wal');
    rmSync(wal, { force: true });
    mkdirSync(wal);
    try {
      const refused = await a.request({ type: 'send', room, body: 'not durable', clientId: 'c1' });
      expect(refused).toMatchObject({ type: 'error', code: 'DATABASE_UNAVAILABLE' });
      // Committed, so members saw it; only the sender's ack is refused.
      expect((await b.next((f) => f.type === 'message')).body).toBe('not durable');
      // Every later send is refused too: one failed fsync is final.
      expect(await a.request({ type: 'send', room, body: 'again', clientId: 'c2' })).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      const health = await fetch(`${first.url}/health`);
      expect(health.status).toBe(503);
      await a.close();
      await b.close();
      await first.app.close();
      await first.core.close();
    } finally {
      rmSync(wal, { recursive: true, force: true });
    }
    expect(readdirSync(dir).some((n) => n.startsWith('plaza.db.open-'))).toBe(true);

    const second = await startTestServer('sqlite', { PLAZA_DATA_DIR: dir });
    try {
      const c = await ChatClient.open(second.url, { token: ann.accessToken });
      const ack = await c.request({ type: 'send', room, body: 'after', clientId: 'c3' });
      expect(ack.type).toBe('ack');
      expect(ack.seq).toBeGreaterThan(LOST_SEQ_GAP);
      await c.close();
    } finally {
      await second.close();
    }
  });
});
