import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, registerAndLogin } from './helpers/api.js';
import { ChatClient } from './helpers/chat.js';
import { serveProcess } from './helpers/process.js';

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
