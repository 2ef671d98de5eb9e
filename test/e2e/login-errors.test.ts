import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { shot } from '../helpers/webapp.js';

// Code inside page.evaluate() runs in the browser; the test program has no DOM types.
declare const document: any;
declare const window: any;
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The login and register forms' errors as a person sees them in Chromium: beside the field they
 * are about (a taken name, a weak password), a rate limit with the time to wait, the name typed
 * kept (never the password), and the page the person was going to reached after they get in.
 */
describe.runIf(browserAvailable())('login and register field errors', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // Three tries per account and address in 15 minutes: the fourth is refused.
    server = await startTestServer('sqlite', { PLAZA_RATE_LOGIN_ACCOUNT_IP: '3/15m' });
    base = server.url;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  afterEach(async () => {
    await context?.close();
  });

  async function fresh() {
    context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
  }
  async function submit(username: string, password: string) {
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.waitForLoadState();
  }

  it('register: a taken name and a weak password are shown beside their field, the name kept; then on to where the user was going', async () => {
    expect((await api(base, 'POST', '/api/auth/register', { json: { username: 'taken', password: PASSWORD } })).status).toBe(201);
    await fresh();
    // Going to the chat signed out: the login page, which remembers where to go.
    await page.goto(`${base}/chat`);
    await page.waitForURL(`${base}/login?next=%2Fchat`);
    await page.click('a:text-is("Create an account")');
    await page.waitForURL(`${base}/register?next=%2Fchat`);

    await submit('taken', PASSWORD);
    await page.waitForURL(/\/register\?error=/);
    expect(await page.textContent('#username-error')).toMatch(/taken/i);
    expect(await page.getAttribute('input[name=username]', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('input[name=username]', 'aria-describedby')).toBe('username-error');
    expect(await page.inputValue('input[name=username]')).toBe('taken');
    expect(await page.inputValue('input[name=password]')).toBe('');
    // The error sits inside the field's label, not above the form; focus is on the field to fix.
    expect(await page.locator('label:has(input[name=username]) #username-error').count()).toBe(1);
    expect(await page.locator('body > p.err').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('username');
    await shot(page, 'register-taken');

    await submit('newcomer', 'short');
    await page.waitForURL(/\/register\?error=/);
    expect(await page.textContent('#password-error')).toMatch(/Password must be at least \d+ characters/);
    expect(await page.getAttribute('input[name=password]', 'aria-invalid')).toBe('true');
    expect(await page.locator('#username-error').count()).toBe(0);
    expect(await page.inputValue('input[name=username]')).toBe('newcomer');
    await shot(page, 'register-weak-password');

    await submit('newcomer', PASSWORD);
    await page.waitForURL(`${base}/login?registered=1&next=%2Fchat`);
    expect(await page.textContent('.ok')).toContain('Account created');
    await submit('newcomer', PASSWORD);
    await page.waitForURL(`${base}/chat`);
    await page.waitForSelector('header.topbar .who:has-text("newcomer")');
  });

  it('login: a wrong password keeps the name and the destination; the next try lands there', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'returning', password: PASSWORD } });
    await fresh();
    await page.goto(`${base}/profile`);
    await page.waitForURL(`${base}/login?next=%2Fprofile`);
    await submit('returning', 'not-the-password');
    await page.waitForURL(/\/login\?error=/);
    expect(new URL(page.url()).searchParams.get('next')).toBe('/profile');
    expect(await page.textContent('[role=alert]')).toMatch(/Incorrect username, email or password/);
    expect(await page.inputValue('input[name=username]')).toBe('returning');
    expect(await page.inputValue('input[name=password]')).toBe('');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/profile`);
    await page.waitForSelector('main h1:text-is("Profile")');
  });

  it('login: past the rate limit the page says how long to wait, with the name still there', async () => {
    await api(base, 'POST', '/api/auth/register', { json: { username: 'hasty', password: PASSWORD } });
    await fresh();
    await page.goto(`${base}/login?next=%2Fadmin`);
    for (let i = 0; i < 3; i++) {
      await submit('hasty', `wrong-${i}-password`);
      await page.waitForURL(/\/login\?error=/);
      expect(await page.textContent('[role=alert]')).toMatch(/Incorrect/);
    }
    // Even the right password now waits.
    await submit('hasty', PASSWORD);
    await page.waitForURL(/\/login\?error=/);
    expect(await page.textContent('[role=alert]')).toMatch(/^Too many attempts; try again in 1[45] minutes$/);
    expect(await page.inputValue('input[name=username]')).toBe('hasty');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/admin');
    await shot(page, 'login-rate-limited');
    // A client that is not a browser keeps the plain sentence and gets the Retry-After.
    const curl = await api(base, 'POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=hasty&password=${PASSWORD}` });
    expect(curl.status).toBe(429);
    expect(curl.text).toBe('Too many attempts; try again later');
    expect(Number(curl.headers.get('retry-after'))).toBeGreaterThan(800);
  });

  it('a forged ?field= or HTML in ?error= is shown as text, and only beside a real field', async () => {
    await fresh();
    await page.goto(`${base}/login?error=%3Cimg%20src%3Dx%20onerror%3D%22window.__x%3D1%22%3E&field=username%22%3E%3Cb%3E`);
    expect(await page.locator('img[src=x], b').count()).toBe(0);
    expect(await page.textContent('[role=alert]')).toBe('<img src=x onerror="window.__x=1">');
    expect(await page.locator('.field-error').count()).toBe(0);
    await page.goto(`${base}/login?error=%3Cscript%3Ex%3C%2Fscript%3E&field=password`);
    expect(await page.textContent('#password-error')).toBe('<script>x</script>');
    expect(await page.evaluate(() => (window as unknown as { __x?: number }).__x)).toBeUndefined();
  });
});
