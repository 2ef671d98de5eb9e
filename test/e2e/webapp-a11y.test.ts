import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accessibilityProblems, createAdmin, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

/**
 * An accessibility scan (axe-core) of every page, with content on it and with its dialogs open,
 * in the light and the dark theme: no serious or critical violation. Keyboard use: the skip link
 * and a visible focus ring.
 */
describe.runIf(browserAvailable())('accessibility of the web app', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let room = 0;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    browser = await launchChromium();
    await createAdmin(base, server.setupUrl ?? '', 'ada');
    const token = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'ada', password: PASSWORD } })).body.accessToken;
    for (const name of ['minutes.txt', 'logo.png']) {
      await fetch(`${base}/api/files/raw`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'file-name': name }, body: Buffer.from('hello') });
    }
    room = (await api(base, 'POST', '/api/chat/rooms', { token, json: { name: 'lobby' } })).body.room.id;
    await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token, json: { body: 'Welcome to the lobby, see https://example.com' } });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function scan(page: Page, what: string) {
    expect(await accessibilityProblems(page), what).toEqual([]);
  }

  for (const scheme of ['light', 'dark'] as const) {
    it(`has no serious or critical violations on any page (${scheme} theme)`, async () => {
      const { context, page, problems } = await loggedInContext(browser, base, 'ada', { colorScheme: scheme });
      await page.waitForSelector('#file-list tbody tr');
      await scan(page, 'files');
      await shot(page, `${scheme}-files`);
      await page.click('#file-list tr:has-text("minutes.txt") button:text-is("Share")');
      await page.waitForSelector('dialog[open]');
      await scan(page, 'share dialog');
      await shot(page, `${scheme}-share-dialog`);
      await page.keyboard.press('Escape');
      await page.click('#file-list tr:has-text("minutes.txt") button:text-is("Delete")');
      await scan(page, 'delete dialog');
      await shot(page, `${scheme}-delete-dialog`);
      await page.keyboard.press('Escape');
      await page.click('button:text-is("Grid view")');
      await scan(page, 'files grid');
      await shot(page, `${scheme}-files-grid`);
      await page.click('button:text-is("List view")');

      await page.goto(`${base}/chat/${room}`);
      await page.waitForSelector('.msg');
      await scan(page, 'chat');
      await shot(page, `${scheme}-chat`);
      await page.goto(`${base}/profile`);
      await page.waitForSelector('#sessions tbody tr');
      await scan(page, 'profile');
      await shot(page, `${scheme}-profile`);
      await page.goto(`${base}/admin`);
      await page.waitForSelector('#users tbody tr');
      await scan(page, 'admin');
      await shot(page, `${scheme}-admin`);
      expectNoProblems(problems);
      await context.close();

      const anonymous = await browser.newContext({ colorScheme: scheme });
      const p = await anonymous.newPage();
      // The forms also with an error beside a field (a failed post comes back like this).
      const pages: Array<[string, string]> = [
        ['/login', 'login'],
        ['/register', 'register'],
        ['/', 'home'],
        ['/register?error=Username%20is%20already%20taken&field=username&username=ada', 'register-field-error'],
        ['/login?error=Too%20many%20attempts%3B%20try%20again%20in%2015%20minutes&username=ada', 'login-rate-limited'],
      ];
      for (const [path, name] of pages) {
        await p.goto(`${base}${path}`);
        await scan(p, path);
        await shot(p, `${scheme}-${name}`);
      }
      await anonymous.close();
    });
  }

  it('is usable from the keyboard: a skip link first, a visible focus ring', async () => {
    const { context, page, problems } = await loggedInContext(browser, base, 'ada');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).toBe('solid');
    await shot(page, 'files-keyboard-focus');
    expectNoProblems(problems);
    await context.close();
  });
});
