import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD, registerAndLogin } from '../../test/helpers/api.js';
import { requestFrom } from '../../test/helpers/client-ip.js';
import { uploadMultipart } from '../../test/helpers/files.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { REPLY_WELCOME, REPLY_WRONG_PASSWORD } from '../compat/tcpchat/words.js';

/**
 * Password checks (argon2id at the production cost) are bounded: at most PLAZA_ARGON2_CONCURRENCY
 * run and PLAZA_ARGON2_QUEUE wait; past that a login is answered 503 SERVER_BUSY with
 * Retry-After: 1 at once, on every door, and is not counted as a failed attempt.
 */

interface Answer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function post(server: TestServer, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const r = await requestFrom('127.0.0.1', server.url + path, { method: 'POST', headers, body });
  const retry = r.headers['retry-after'];
  return { status: r.status, retryAfter: Array.isArray(retry) ? retry[0] : retry, text: r.text };
}

const WHO = { username: 'busyuser', email: 'busyuser@example.com' };

const DOORS: { name: string; login(s: TestServer): Promise<Answer>; busy: RegExp; success: RegExp }[] = [
  {
    name: 'native /api/auth/login',
    login: (s) => post(s, '/api/auth/login', JSON_HEADERS, JSON.stringify({ identifier: WHO.username, password: PASSWORD })),
    busy: /^\{"error":\{"code":"SERVER_BUSY","message":"The server is busy checking passwords; retry in a moment"\}\}$/,
    success: /"accessToken":"/,
  },
  {
    name: 'seed 004 /auth/login',
    login: (s) => post(s, '/auth/login', JSON_HEADERS, JSON.stringify({ email: WHO.email, password: PASSWORD })),
    busy: /^\{"detail":"The server is busy checking passwords; retry in a moment"\}$/,
    success: /"token_type":"bearer"/,
  },
  {
    name: 'seed 000 /login',
    login: (s) => post(s, '/login', JSON_HEADERS, JSON.stringify({ username: WHO.username, password: PASSWORD })),
    busy: /^SERVER_ERROR: The server is busy checking passwords; retry in a moment$/,
    success: /^LOGIN_SUCCESS$/,
  },
  {
    name: 'seed 002 form /login',
    login: (s) =>
      post(
        s,
        '/login',
        { 'content-type': 'application/x-www-form-urlencoded' },
        new URLSearchParams({ username: WHO.username, password: PASSWORD }).toString(),
      ),
    busy: /^The server is busy checking passwords; retry in a moment$/,
    success: /^Logged in as busyuser$/,
  },
  {
    name: 'seed 001 JSON POST /',
    login: (s) => post(s, '/', JSON_HEADERS, JSON.stringify({ email: WHO.email, password: PASSWORD })),
    busy: /^Server Error: The server is busy checking passwords; retry in a moment$/,
    success: /^Success Login\. you are user$/,
  },
  {
    name: 'seed 001 raw TCP door',
    async login(s) {
      const c = await RawConnection.open(s.netclassPort ?? 0, '127.0.0.1');
      try {
        const body = `\r\n\r\nuser:${WHO.email},${PASSWORD}`;
        const r = await c.request(
          `POST HTTP/1.1\r\nUser-Agent:python3(macOS)\r\nAccept:*/*\r\nConnection: keep-alive\r\nContent-Length:${body.length}${body}`,
        );
        const retry = r.headers['retry-after'];
        return { status: r.status, retryAfter: Array.isArray(retry) ? retry[0] : retry, text: r.body.toString() };
      } finally {
        c.close();
      }
    },
    busy: /^Server Error: The server is busy checking passwords; retry in a moment$/,
    success: /^Success Login\. you are user$/,
  },
];

describe('bounded password checks', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      PLAZA_ARGON2_CONCURRENCY: '1',
      PLAZA_ARGON2_QUEUE: '1',
      PLAZA_NETCLASS_PORT: '0',
    });
    await api(server.url, 'POST', '/api/auth/register', { json: { ...WHO, password: PASSWORD } });
  });
  afterAll(() => server.close());

  it.each(DOORS)('past the bound, $name answers 503 with Retry-After: 1 in its own words; the rest log in', async (door) => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => door.login(server)));
    const busy = answers.filter((a) => a.status === 503);
    const ok = answers.filter((a) => a.status === 200);
    expect(busy.length + ok.length, JSON.stringify(answers)).toBe(12);
    // One running and one waiting at any moment: at least those two get through.
    expect(ok.length).toBeGreaterThanOrEqual(2);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    for (const a of busy) {
      expect(a.retryAfter).toBe('1');
      expect(a.text).toMatch(door.busy);
    }
    for (const a of ok) expect(a.text).toMatch(door.success);
  });

  it("seed 003's TCP door, which has no word for busy, refuses the login as it refuses a wrong password", async () => {
    const s = await startTestServer('sqlite', { PLAZA_ARGON2_CONCURRENCY: '1', PLAZA_ARGON2_QUEUE: '1', PLAZA_TCPCHAT_PORT: '0' });
    try {
      const names = Array.from({ length: 10 }, (_, i) => `tcpbusy${i}`);
      for (const n of names) await api(s.url, 'POST', '/api/auth/register', { json: { username: n, password: PASSWORD } });
      // Each its own account (one id may be online only once); the first reply is the verdict.
      const words = await Promise.all(names.map((n) => firstTcpReply(s.tcpchatPort ?? 0, `${n}/${PASSWORD}`)));
      expect(words.every((w) => w === REPLY_WELCOME || w === REPLY_WRONG_PASSWORD), JSON.stringify(words)).toBe(true);
      expect(words.filter((w) => w === REPLY_WELCOME).length).toBeGreaterThanOrEqual(2);
      expect(words.filter((w) => w === REPLY_WRONG_PASSWORD).length).toBeGreaterThanOrEqual(1);
    } finally {
      await s.close();
    }
  });

  it('a login refused as busy is not counted as a failure', async () => {
    const s = await startTestServer('sqlite', {
      PLAZA_ARGON2_CONCURRENCY: '1',
      PLAZA_ARGON2_QUEUE: '0',
      PLAZA_RATE_LOGIN_FAIL_IP: '8/1h',
    });
    try {
      await registerAndLogin(s.url, 'counted');
      const login = (password: string) =>
        api(s.url, 'POST', '/api/auth/login', { json: { identifier: 'counted', password } });
      // Wrong passwords, all at once, within the per-IP failure budget.
      const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => login(`wrong-burst-${i}`)));
      const statuses = burst.map((r) => r.status);
      const checked = statuses.filter((st) => st === 401).length;
      expect(statuses.filter((st) => st === 503).length).toBeGreaterThanOrEqual(1);
      expect(checked + statuses.filter((st) => st === 503).length).toBe(8);
      // Only the checked ones count: the budget that is left is exactly 8 minus those.
      for (let i = checked; i < 8; i++) expect((await login(`wrong-after-${i}`)).status).toBe(401);
      expect((await login('wrong-over-budget')).status).toBe(429);
    } finally {
      await s.close();
    }
  });

  it('a login flood leaves file reads their threads: a download answers while logins wait', async () => {
    const s = await startTestServer('sqlite', { PLAZA_ARGON2_QUEUE: '8' });
    try {
      const t = await registerAndLogin(s.url, 'reader');
      const up = await uploadMultipart(s.url, t.accessToken, [{ name: 'notes.txt', data: Buffer.alloc(256 * 1024, 97) }]);
      expect(up.status).toBe(201);
      const id = up.body.files[0].id;
      const flood = Array.from({ length: 100 }, () =>
        api(s.url, 'POST', '/api/auth/login', { json: { identifier: 'reader', password: PASSWORD } }),
      );
      // Once one login is refused as busy, the checks running and waiting fill the bound; before
      // the bound, the whole flood queued in libuv's thread pool, ahead of every file read.
      const refusedOne = new Promise<boolean>((resolve) => {
        for (const f of flood) void f.then((r) => r.status === 503 && resolve(true));
        void Promise.all(flood).then(() => resolve(false));
      });
      expect(await refusedOne).toBe(true);
      const t0 = performance.now();
      const download = await fetch(`${s.url}/api/files/${id}/content`, { headers: { authorization: `Bearer ${t.accessToken}` } });
      const bytes = (await download.arrayBuffer()).byteLength;
      const downloadMs = performance.now() - t0;
      const health = await api(s.url, 'GET', '/api/health');
      const statuses = (await Promise.all(flood)).map((r) => r.status);
      console.log(`download during the flood: ${downloadMs.toFixed(0)} ms; flood ${JSON.stringify(count(statuses))}`);
      expect(download.status).toBe(200);
      expect(bytes).toBe(256 * 1024);
      expect(health.status).toBe(200);
      expect(statuses.every((st) => st === 200 || st === 503)).toBe(true);
      expect(statuses.filter((st) => st === 503).length).toBeGreaterThan(0);
      expect(downloadMs).toBeLessThan(1000);
    } finally {
      await s.close();
    }
  });
});

function count(values: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Sends seed 003's login line and resolves with the first bytes the door answers. */
function firstTcpReply(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(line));
    socket.once('data', (d: Buffer) => {
      resolve(d.toString('utf8'));
      socket.destroy();
    });
    socket.once('close', () => resolve(''));
    socket.once('error', reject);
  });
}
