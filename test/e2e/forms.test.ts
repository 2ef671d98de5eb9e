import http from 'node:http';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Plaza's server-rendered pages as a person uses them, in Debian's Chromium: the one-time setup
 * link, register, login, seed 002's file manager at /index, logout — and the same forms posted
 * from another site, which must be refused.
 */
describe.runIf(browserAvailable())('pages and forms in a real Chromium', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let attacker: http.Server;
  let evil: string;
  let attackerPage = '';
  const dialogs: string[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    browser = await launchChromium();
    // Another site: `localhost` is a different site from `127.0.0.1` for the browser.
    attacker = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attackerPage));
    await new Promise<void>((r) => attacker.listen(0, r));
    evil = `http://localhost:${(attacker.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    attacker?.close();
    await server?.close();
  });

  async function freshPage(javaScriptEnabled = true) {
    context = await browser.newContext({ acceptDownloads: true, javaScriptEnabled });
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return page;
  }
  afterEach(async () => {
    await context?.close();
    expect(dialogs).toEqual([]);
  });

  async function logIn(username: string, password = PASSWORD) {
    await page.goto(`${base}/login`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
  }

  it('the setup link creates the first admin once; the admin logs in and lands on the files page', async () => {
    expect(server.setupUrl).toBeDefined();
    await freshPage();
    await page.goto(server.setupUrl ?? '');
    await screenshot(page, 'setup');
    await page.fill('input[name=username]', 'boss');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/login?registered=1`);
    expect(await page.textContent('.ok')).toContain('Account created');

    await logIn('boss');
    await page.waitForURL(`${base}/index`);
    expect(await page.textContent('h1')).toBe('Files');
    await page.waitForSelector('header.topbar .who:has-text("boss")');
    await screenshot(page, 'files-empty');

    await page.goto(server.setupUrl ?? '');
    expect(await page.textContent('h1')).toBe('Setup is complete');
  });

  it('register, a wrong password, then the right one', async () => {
    await freshPage();
    await page.goto(`${base}/register`);
    await page.fill('input[name=username]', 'carol');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/login?registered=1`);

    await logIn('carol', 'not-her-password');
    await page.waitForURL(/\/login\?error=/);
    expect(await page.textContent('[role=alert]')).toMatch(/password/i);
    await screenshot(page, 'login-error');

    await logIn('carol');
    await page.waitForURL(`${base}/index`);
    // Seed 002's /index is the app's files page for a browser running JavaScript.
    await page.waitForSelector('header.topbar .who:has-text("carol")');
    await page.waitForSelector('main h1:text-is("Files")');
    expect(await page.locator('nav.sections a[href="/files"]').count()).toBe(1);
    expect(await page.locator('form[action="/upload"]').count()).toBe(0);
    await screenshot(page, 'index-app');
  });

  it('without JavaScript, the file manager uploads, lists (names escaped), downloads and logs out', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'dave', password: PASSWORD } });
    await freshPage(false);
    await logIn('dave');
    await page.waitForURL(`${base}/index`);
    expect(await page.textContent('#empty')).toContain('No files yet');

    const notes = Buffer.from('meeting notes\n'.repeat(100));
    const xss = '<img src=x onerror=alert(1)>.txt';
    await page.setInputFiles('input[type=file]', [
      { name: 'notes.txt', mimeType: 'text/plain', buffer: notes },
      { name: xss, mimeType: 'text/plain', buffer: Buffer.from('x') },
    ]);
    await page.click('form[action="/upload"] button');
    await page.waitForURL(/\/index\?uploaded=/);
    expect(await page.textContent('[role=status]')).toContain('notes.txt');
    const names = await page.$$eval('#files tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
    expect(names.sort()).toEqual([xss, 'notes.txt'].sort());
    expect(await page.textContent('#files')).toContain('1.4 KiB');
    await screenshot(page, 'files-listed');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#files a:text-is("notes.txt")')]);
    expect(download.suggestedFilename()).toBe('notes.txt');
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(notes)).toBe(true);

    await page.click('header button:has-text("Log out")');
    await page.waitForURL(`${base}/`);
    await page.goto(`${base}/index`);
    await page.waitForURL(`${base}/login`);
  });

  it('forms posted from another site or a sandboxed frame are refused; a link to /logout does not log out', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'erin', password: PASSWORD } });
    await freshPage();

    attackerPage = `<form method="post" action="${base}/register"><input name="username" value="forged1"><input name="password" value="${PASSWORD}"></form><script>document.forms[0].submit()</script>`;
    await page.goto(evil);
    await page.waitForURL(`${base}/register`);
    expect(await page.textContent('body')).toContain('CSRF_REJECTED');

    // A sandboxed frame (an opaque origin: Origin: null) posts into a new window: Plaza's answers
    // may not be shown inside a frame (frame-ancestors 'none'), and a still-sandboxed popup may
    // not open them either (Cross-Origin-Opener-Policy).
    attackerPage = `<iframe sandbox="allow-forms allow-scripts allow-popups allow-popups-to-escape-sandbox" srcdoc='<form method="post" target="_blank" action="${base}/register"><input name="username" value="forged2"><input name="password" value="${PASSWORD}"></form><script>document.forms[0].submit()</script>'></iframe>`;
    const popup = context.waitForEvent('page');
    const answered = context.waitForEvent('response', (r) => r.url() === `${base}/register`);
    await page.goto(evil);
    const posted = await popup;
    const answer = await answered;
    expect(await answer.request().headerValue('origin')).toBe('null');
    expect(answer.status()).toBe(403);
    await posted.waitForLoadState();
    expect(posted.url()).toBe(`${base}/register`);
    expect(await posted.textContent('body')).toContain('CSRF_REJECTED');
    for (const name of ['forged1', 'forged2']) {
      const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: name, password: PASSWORD } });
      expect(login.status).toBe(401);
    }

    await logIn('erin');
    await page.waitForURL(`${base}/index`);
    attackerPage = `<a id="bye" href="${base}/logout">win a prize</a>`;
    await page.goto(evil);
    await page.click('#bye');
    await page.waitForURL(`${base}/logout`);
    expect(await page.textContent('h1')).toBe('Log out of Plaza?');
    await screenshot(page, 'logout-confirm');
    await page.goto(`${base}/index`);
    await page.waitForSelector('header.topbar .who:has-text("erin")');
  });
});

/** This machine's own non-loopback IPv4 address, as a team's LAN server would have. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

/**
 * Plain HTTP on a LAN address, as many teams run Plaza: Chromium sends no Fetch Metadata there
 * (it does for localhost and HTTPS), so only Origin and Referer can tell where a request came from.
 */
describe.runIf(browserAvailable() && lanAddress() !== undefined)('pages over plain HTTP on a LAN address', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let attacker: http.Server;
  let attackerPage = '';

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_HOST: lanAddress() ?? '' });
    base = `http://${lanAddress()}:${server.port}`;
    browser = await launchChromium();
    attacker = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(attackerPage));
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await browser?.close();
    attacker?.close();
    await server?.close();
  });

  it('forms work, another site cannot post them, and a link without Referer does not log out', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'lan-user', password: PASSWORD } });
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const sent: Record<string, string>[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${base}/`) && ['POST', 'GET'].includes(r.method())) sent.push(r.headers());
    });
    await page.goto(`${base}/login`);
    await page.fill('input[name=username]', 'lan-user');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/index`);
    // The browser vouched with nothing but the page's own Origin (no Fetch Metadata on plain HTTP).
    const post = sent.find((h) => h.origin !== undefined);
    expect(post?.origin).toBe(base);
    expect(post?.['sec-fetch-site']).toBeUndefined();

    const evil = `http://localhost:${(attacker.address() as AddressInfo).port}`;
    attackerPage = `<a id="bye" rel="noreferrer" href="${base}/logout">win a prize</a>`;
    await page.goto(evil);
    await page.click('#bye');
    await page.waitForURL(`${base}/logout`);
    expect(await page.textContent('h1')).toBe('Log out of Plaza?');

    attackerPage = `<form method="post" action="${base}/logout"></form><script>document.forms[0].submit()</script>`;
    await page.goto(evil);
    await page.waitForURL(`${base}/logout`);
    expect(await page.textContent('body')).toContain('CSRF_REJECTED');

    await page.goto(`${base}/index`);
    // The app at /index on a LAN address too (its navigations carry Upgrade-Insecure-Requests).
    await page.waitForSelector('header.topbar .who:has-text("lan-user")');
    await page.click('header button:has-text("Log out")');
    await page.waitForURL(`${base}/login`);
    await page.goto(`${base}/index`);
    await page.waitForURL(`${base}/login`);
    await context.close();
  });
});
