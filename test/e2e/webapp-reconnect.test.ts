import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/cli/commands/serve.js';
import { loadConfig } from '../../src/config.js';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { TEST_ENV } from '../helpers/server.js';
import { createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * The server restarts under two open chat pages: both say they are reconnecting, a message typed
 * meanwhile stays pending and is sent once the server is back (same clientId: never twice), and
 * each page ends with every message exactly once, in order.
 */
describe.runIf(browserAvailable())('chat across a server restart', () => {
  let dataDir: string;
  let running: RunningServer | undefined;
  let base: string;
  let browser: Browser;
  let config: ReturnType<typeof loadConfig>;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-restart-'));
    const port = await freePort();
    config = loadConfig({ ...TEST_ENV, PLAZA_PORT: String(port), PLAZA_DATA_DIR: dataDir });
    running = await startServer(config, () => {});
    base = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await running?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const seqs = (page: Page) => page.locator('.messages .msg:not(.pending)').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-seq'))));
  const bodies = (page: Page) => page.locator('.messages .msg:not(.pending) .body').allTextContents();

  it('reconnects, resends what was pending and replays what was missed, each once', async () => {
    await createUser(base, 'kim');
    await createUser(base, 'lee');
    const kim = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'kim', password: PASSWORD } })).body.accessToken;
    const lee = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'lee', password: PASSWORD } })).body.accessToken;
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: kim, json: { name: 'ops' } })).body.room.id;
    expect((await api(base, 'POST', `/api/chat/rooms/${room}/join`, { token: lee })).status).toBe(200);

    const a = await loggedInContext(browser, base, 'kim');
    const b = await loggedInContext(browser, base, 'lee');
    for (const p of [a.page, b.page]) {
      await p.goto(`${base}/chat/${room}`);
      await p.waitForSelector('.conn:text-is("Connected")');
    }
    await a.page.fill('textarea', 'before the restart');
    await a.page.keyboard.press('Enter');
    await expect.poll(() => bodies(b.page)).toEqual(['before the restart']);

    await running?.close();
    running = undefined;
    for (const p of [a.page, b.page]) await p.waitForSelector('.conn:text-is("Reconnecting…")');
    await a.page.fill('textarea', 'typed while the server was down');
    await a.page.keyboard.press('Enter');
    await a.page.waitForSelector('.msg.pending:has-text("typed while the server was down")');
    await shot(a.page, 'chat-reconnecting');

    running = await startServer(config, () => {});
    expect((await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: lee, json: { body: 'posted right after the restart' } })).status).toBe(201);
    for (const p of [a.page, b.page]) await p.waitForSelector('.conn:text-is("Connected")', { timeout: 20_000 });
    await expect.poll(() => a.page.locator('.msg.pending').count(), { timeout: 15_000 }).toBe(0);
    const expected = ['before the restart', 'typed while the server was down', 'posted right after the restart'];
    for (const p of [a.page, b.page]) {
      await expect.poll(async () => (await bodies(p)).sort(), { timeout: 15_000 }).toEqual([...expected].sort());
      expect(await seqs(p)).toEqual([1, 2, 3]);
    }
    const stored = (await api(base, 'GET', `/api/chat/rooms/${room}/messages`, { token: kim })).body.messages;
    expect(stored.map((m: { body: string }) => m.body).sort()).toEqual([...expected].sort());
    expectNoProblems(a.problems);
    expectNoProblems(b.problems);
    await a.context.close();
    await b.context.close();
  });
});
