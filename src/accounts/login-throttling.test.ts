import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../../test/helpers/api.js';
import { requestFrom } from '../../test/helpers/client-ip.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { RawConnection } from '../../test/helpers/raw-http.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

/**
 * Login throttling as an attacker meets it, through every door that logs in. Clients get distinct
 * IPs by connecting from other loopback addresses (127.0.0.x), so no proxy header is trusted.
 */

/** The production defaults for every login limit (an empty value means "not set"). */
const DEFAULT_LOGIN_LIMITS = {
  PLAZA_RATE_LOGIN_IP: '',
  PLAZA_RATE_LOGIN_FAIL_IP: '',
  PLAZA_RATE_LOGIN_ACCOUNT_IP: '',
  PLAZA_RATE_LOGIN_ACCOUNT: '',
};
/** Failed logins one IP may make against one account before it is refused (the default). */
const PAIR_LIMIT = 10;

interface Answer {
  status: number;
  retryAfter: number | undefined;
  text: string;
}
interface Account {
  username: string;
  email: string;
}
interface Door {
  name: string;
  login(server: TestServer, from: string, who: Account, password: string): Promise<Answer>;
  /** The door's own words for: logged in, wrong password, too many attempts. */
  success: RegExp;
  failure: RegExp;
  limited: RegExp;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function httpLogin(server: TestServer, from: string, path: string, headers: Record<string, string>, body: string) {
  const r = await requestFrom(from, server.url + path, { method: 'POST', headers, body });
  const retry = r.headers['retry-after'];
  return { status: r.status, retryAfter: retry === undefined ? undefined : Number(retry), text: r.text };
}

/** Seed 001's later client: no path, and a Content-Length 4 bytes too long (it counts the blank line). */
function seed001Login(email: string, password: string): string {
  const user = `\r\n\r\nuser:${email},${password}`;
  return `POST HTTP/1.1\r\nUser-Agent:python3(macOS)\r\nAccept:*/*\r\nConnection: keep-alive\r\nContent-Length:${user.length}${user}`;
}

const DOORS: Door[] = [
  {
    name: 'native /api/auth/login',
    login: (s, from, who, password) =>
      httpLogin(s, from, '/api/auth/login', JSON_HEADERS, JSON.stringify({ identifier: who.username, password })),
    success: /"accessToken":"/,
    failure: /"code":"INVALID_CREDENTIALS"/,
    limited: /"code":"RATE_LIMITED"/,
  },
  {
    name: 'seed 004 /auth/login',
    login: (s, from, who, password) =>
      httpLogin(s, from, '/auth/login', JSON_HEADERS, JSON.stringify({ email: who.email, password })),
    success: /"token_type":"bearer","success":true/,
    failure: /^\{"detail":"Incorrect email or password"\}$/,
    limited: /^\{"detail":"Too many attempts; try again later"\}$/,
  },
  {
    name: 'seed 000 JSON /login',
    login: (s, from, who, password) =>
      httpLogin(s, from, '/login', JSON_HEADERS, JSON.stringify({ username: who.username, password })),
    success: /^LOGIN_SUCCESS$/,
    failure: /^LOGIN_FAILED$/,
    limited: /^LOGIN_FAILED: Too many attempts$/,
  },
  {
    name: 'seed 002 form /login',
    login: (s, from, who, password) =>
      httpLogin(
        s,
        from,
        '/login',
        { 'content-type': 'application/x-www-form-urlencoded' },
        new URLSearchParams({ username: who.username, password }).toString(),
      ),
    success: /^Logged in as /,
    failure: /^Incorrect username, email or password$/,
    limited: /^Too many attempts; try again later$/,
  },
  {
    name: 'seed 001 JSON POST /',
    login: (s, from, who, password) =>
      httpLogin(s, from, '/', JSON_HEADERS, JSON.stringify({ email: who.email, password })),
    success: /^Success Login\. you are user$/,
    failure: /^Unauthorized$/,
    limited: /^RATE_LIMITED: Too many attempts; try again later$/,
  },
  {
    name: 'seed 001 raw TCP door',
    async login(s, from, who, password) {
      const c = await RawConnection.open(s.netclassPort ?? 0, '127.0.0.1', from);
      try {
        const r = await c.request(seed001Login(who.email, password));
        const retry = r.headers['retry-after'];
        return { status: r.status, retryAfter: retry === undefined ? undefined : Number(retry), text: r.body.toString() };
      } finally {
        c.close();
      }
    },
    success: /^Success Login\. you are user$/,
    failure: /^Unauthorized$/,
    limited: /^RATE_LIMITED: Too many attempts; try again later$/,
  },
];

async function register(server: TestServer, who: Account) {
  const r = await api(server.url, 'POST', '/api/auth/register', {
    json: { username: who.username, email: who.email, password: PASSWORD },
  });
  expect(r.status, r.text).toBe(201);
}

describe.each(await testDatabases())('login throttling on %s', (db) => {
  describe('an attacker failing from one IP', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(db, { ...DEFAULT_LOGIN_LIMITS, PLAZA_NETCLASS_PORT: '0' });
    });
    afterAll(async () => {
      await server.close();
    });

    it.each(DOORS.map((door, i) => ({ door, i })))(
      'is refused on $door.name, while the owner logs in from another IP',
      async ({ door, i }) => {
        const who = { username: `alice${i}`, email: `alice${i}@example.com` };
        await register(server, who);
        const attacker = `127.0.0.${10 + i}`;
        const owner = `127.0.0.${30 + i}`;

        for (let n = 0; n < PAIR_LIMIT; n++) {
          const r = await door.login(server, attacker, who, `wrong-guess-${n}`);
          expect(r.status, r.text).toBe(401);
          expect(r.text).toMatch(door.failure);
        }
        const refused = await door.login(server, attacker, who, 'wrong-guess-again');
        expect(refused.status, refused.text).toBe(429);
        expect(refused.text).toMatch(door.limited);
        expect(refused.retryAfter).toBeGreaterThan(0);
        // The right password from the attacker's IP is refused alike: a 429 reveals nothing.
        const rightFromAttacker = await door.login(server, attacker, who, PASSWORD);
        expect(rightFromAttacker.status).toBe(429);

        const fromOwner = await door.login(server, owner, who, PASSWORD);
        expect(fromOwner.status, fromOwner.text).toBe(200);
        expect(fromOwner.text).toMatch(door.success);
      },
    );
  });

  describe('per IP and per account', () => {
    let server: TestServer | undefined;
    afterAll(async () => {
      await server?.close();
    });
    const native = DOORS[0] as Door;
    const restart = async (env: Record<string, string>) => {
      await server?.close();
      server = await startTestServer(db, { ...DEFAULT_LOGIN_LIMITS, ...env });
      return server;
    };

    it('one IP guessing across many accounts is refused for every account; other IPs are not', async () => {
      const s = await restart({ PLAZA_RATE_LOGIN_FAIL_IP: '4/1h' });
      const victims = Array.from({ length: 6 }, (_, n) => ({ username: `spray${n}`, email: `spray${n}@example.com` }));
      for (const v of victims) await register(s, v);
      const sprayer = '127.0.0.60';
      const statuses = [];
      for (const v of victims.slice(0, 5)) statuses.push((await native.login(s, sprayer, v, 'spring-2024!')).status);
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      // Unknown names count too (the same answers as for real accounts).
      expect((await native.login(s, sprayer, { username: 'ghost', email: '' }, 'x-password')).status).toBe(429);
      expect((await native.login(s, sprayer, victims[5] as Account, PASSWORD)).status).toBe(429);
      expect((await native.login(s, '127.0.0.61', victims[5] as Account, PASSWORD)).status).toBe(200);
    });

    it('names that are no account meet the limits exactly as accounts do (no enumeration by 429s)', async () => {
      const s = await restart({ PLAZA_RATE_LOGIN_ACCOUNT_IP: '3/5m', PLAZA_RATE_LOGIN_ACCOUNT: '4/1h' });
      const real = { username: 'realname', email: 'realname@example.com' };
      await register(s, real);
      const ghost = (n: string) => ({ username: n, email: '' });
      // One IP exhausts its (account, IP) budget on three made-up names: a counter shared by
      // unknown names would now refuse every other one from there, while accounts still answer 401.
      const probe = '127.0.0.90';
      for (const n of ['ghost-a', 'ghost-b', 'ghost-c']) {
        for (let i = 0; i < 3; i++) expect((await native.login(s, probe, ghost(n), `guess-${i}`)).status).toBe(401);
        expect((await native.login(s, probe, ghost(n), 'guess-again')).status).toBe(429);
      }
      expect((await native.login(s, probe, ghost('ghost-d'), 'first-guess')).status).toBe(401);
      expect((await native.login(s, probe, real, 'first-guess')).status).toBe(401);

      // Spread over many IPs, the account-wide counter of an unknown name fills at the same
      // point as an account's, with the same Retry-After.
      const run = async (who: Account, first: number) => {
        const seen = [];
        for (let n = 0; n < 5; n++) {
          const r = await native.login(s, `127.0.0.${first + n}`, who, `spread-${n}`);
          seen.push(`${r.status}${r.retryAfter === undefined ? '' : ` after ~${Math.round(r.retryAfter / 60)}m`}`);
        }
        return seen;
      };
      const other = { username: 'spreadname', email: 'spreadname@example.com' };
      await register(s, other);
      const forReal = await run(other, 100);
      const forGhost = await run(ghost('ghost-e'), 110);
      expect(forReal).toEqual(['401', '401', '401', '401', '429 after ~60m']);
      expect(forGhost).toEqual(forReal);
    });

    it('a distributed attack on one account refuses new IPs, while the owner logs in from a known IP', async () => {
      const s = await restart({ PLAZA_RATE_LOGIN_ACCOUNT: '6/1h' });
      const who = { username: 'target', email: 'target@example.com' };
      await register(s, who);
      const home = '127.0.0.70';
      expect((await native.login(s, home, who, PASSWORD)).status).toBe(200);

      // Three IPs, two guesses each: each stays far below its own limit, the account reaches its own.
      for (const bot of ['127.0.0.71', '127.0.0.72', '127.0.0.73']) {
        for (let n = 0; n < 2; n++) expect((await native.login(s, bot, who, `guess-${bot}-${n}`)).status).toBe(401);
      }
      const fresh = await native.login(s, '127.0.0.74', who, 'guess-more');
      expect(fresh.status).toBe(429);
      expect(fresh.retryAfter).toBeGreaterThan(60);
      // The owner on a network never used before waits like everyone else ...
      expect((await native.login(s, '127.0.0.75', who, PASSWORD)).status).toBe(429);
      // ... but from where they logged in before, the right password still works (and wrong ones
      // are still counted against that IP).
      expect((await native.login(s, home, who, PASSWORD)).status).toBe(200);
      // The owner's success does not clear the attackers' count.
      expect((await native.login(s, '127.0.0.76', who, 'guess-after')).status).toBe(429);
    });
  });
});
