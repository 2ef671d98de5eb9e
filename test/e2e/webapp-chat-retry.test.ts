import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

/**
 * A chat send answered "the database is unavailable" (an error frame with the send's clientId, as
 * the server sends while its database is down): the page keeps the message pending and sends it
 * again with the same clientId after the wait the frame names, until it is stored — once. The
 * answers are injected between the page and the real server with Playwright's routeWebSocket.
 */
describe.runIf(browserAvailable())('chat sends while the database is unavailable', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps the message pending, resends it with the same clientId after the backoff, and it is stored once', async () => {
    await createUser(base, 'rhea');
    const token = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'rhea', password: PASSWORD } })).body.accessToken;
    const room = (await api(base, 'POST', '/api/chat/rooms', { token, json: { name: 'incidents' } })).body.room.id;
    const { context, page, problems } = await loggedInContext(browser, base, 'rhea');

    // Between the page and Plaza: the first two tries of each message get DATABASE_UNAVAILABLE,
    // a message containing "refuse" gets a refusal that retrying cannot fix.
    const sends: Array<{ clientId: string; body: string; at: number }> = [];
    const refusedSoFar = new Map<string, number>();
    await page.routeWebSocket(/\/api\/chat\?/, (ws) => {
      const plaza = ws.connectToServer();
      plaza.onMessage((m) => ws.send(m));
      ws.onMessage((m) => {
        const f = JSON.parse(String(m));
        if (f.type !== 'send') return plaza.send(m);
        sends.push({ clientId: f.clientId, body: f.body, at: Date.now() });
        if (String(f.body).includes('refuse')) {
          return ws.send(JSON.stringify({ type: 'error', code: 'VALIDATION_FAILED', message: 'That cannot be sent', ref: f.ref }));
        }
        const n = refusedSoFar.get(f.clientId) ?? 0;
        if (n < 2) {
          refusedSoFar.set(f.clientId, n + 1);
          return ws.send(JSON.stringify({ type: 'error', code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; try again shortly', ref: f.ref, clientId: f.clientId, retryAfter: 1 }));
        }
        return plaza.send(m);
      });
    });
    // The socket opened at login predates the route: a reload opens one through it.
    await page.goto(`${base}/chat/${room}`);
    await page.waitForSelector('.conn:text-is("Connected")');

    await page.fill('textarea', 'Is the database back?');
    await page.keyboard.press('Enter');
    await expect.poll(() => sends.length).toBe(1);
    // Refused for now: still "Sending…", never "Not sent".
    await page.waitForTimeout(600);
    expect(await page.locator('.msg.pending .state').textContent()).toBe('Sending…');
    expect(await page.locator('.msg.pending.failed').count()).toBe(0);
    await shot(page, 'chat-send-retrying');
    await page.waitForSelector('.messages .msg:not(.pending) .body:text-is("Is the database back?")', { timeout: 10_000 });
    expect(await page.locator('.msg.pending').count()).toBe(0);

    // Three tries, one clientId, each after the wait the error named.
    expect(sends).toHaveLength(3);
    expect(new Set(sends.map((s) => s.clientId)).size).toBe(1);
    expect(sends.every((s) => s.body === 'Is the database back?')).toBe(true);
    for (let i = 1; i < sends.length; i++) expect((sends[i]?.at ?? 0) - (sends[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    const history = await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token });
    expect(history.body.messages.map((m: any) => [m.body, m.clientId])).toEqual([['Is the database back?', sends[0]?.clientId]]);
    expect(await page.locator('.messages .body:text-is("Is the database back?")').count()).toBe(1);

    // A refusal that retrying cannot fix is shown at once and not sent again.
    await page.fill('textarea', 'please refuse this');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.msg.pending.failed .state:text-is("Not sent: That cannot be sent")');
    await page.waitForTimeout(1500);
    expect(sends.filter((s) => s.body === 'please refuse this')).toHaveLength(1);
    expectNoProblems(problems);
    await context.close();
  });
});
