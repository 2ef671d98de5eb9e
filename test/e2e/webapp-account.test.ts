import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createAdmin, createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

// Code inside page.evaluate() runs in the browser; the test program has no DOM types.
declare const document: any;
declare const getComputedStyle: any;

/**
 * Profile and Admin in a real Chromium: password change (the current one required), sessions with
 * one revoked, the access key, logout; an admin managing users (create, role, disable — which
 * ends that user's open chat —, delete behind a confirmation); a plain user kept out of /admin.
 * Also the pages at phone width and in the dark theme, for the screenshots.
 */
describe.runIf(browserAvailable())('the Profile and Admin pages', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    // Disabling a user ends their open chat at the next heartbeat's session check: beat often.
    server = await startTestServer('sqlite', { PLAZA_CHAT_HEARTBEAT_SECONDS: '2' });
    base = server.url;
    browser = await launchChromium();
    await createAdmin(base, server.setupUrl ?? '', 'boss');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('changes the password, lists and revokes sessions, requests an access key, logs out', async () => {
    await createUser(base, 'pia');
    // Another device: an API session the page should list and be able to end.
    const other = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'pia', password: PASSWORD }, headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1' } })).body.accessToken;
    const { context, page, problems } = await loggedInContext(browser, base, 'pia');
    await page.click('nav.sections a:text-is("Profile")');
    await page.waitForSelector('h1:text-is("Profile")');
    await expect.poll(() => page.locator('#sessions tbody tr').count()).toBe(2);
    expect(await page.textContent('#sessions')).toContain('this browser');
    await shot(page, 'profile', true);
    const phoneRow = page.locator('#sessions tbody tr', { hasText: 'Safari on iOS' });
    await phoneRow.locator('button:text-is("Sign out")').click();
    await expect.poll(() => page.locator('#sessions tbody tr').count()).toBe(1);
    expect((await api(base, 'GET', '/api/auth/me', { token: other })).status).toBe(401);

    await page.fill('input[autocomplete=current-password]', 'not-my-password');
    await page.locator('input[autocomplete=new-password]').nth(0).fill('brand-new-pass-1');
    await page.locator('input[autocomplete=new-password]').nth(1).fill('brand-new-pass-1');
    await page.click('button:text-is("Change password")');
    const err = await page.locator('form .error').textContent();
    expect(err).not.toMatch(/INVALID|\{/);
    expect(err?.length).toBeGreaterThan(10);

    await page.fill('input[autocomplete=current-password]', PASSWORD);
    await page.click('button:text-is("Change password")');
    await page.waitForSelector('form .success:has-text("Password changed")');
    // The new password works, the old one no longer does; this browser stays signed in.
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'pia', password: PASSWORD } })).status).toBe(401);
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'pia', password: 'brand-new-pass-1' } })).status).toBe(200);
    await page.reload();
    await page.waitForSelector('h1:text-is("Profile")');
    await page.waitForSelector('#sessions tbody tr');

    await page.click('button:text-is("Request a key")');
    await page.waitForSelector('#key-status:has-text("Active, expires")');
    expect(await page.locator('code.break').textContent()).toMatch(/^[0-9a-f]{64}$/);

    await page.locator('.page > p button:text-is("Log out")').click();
    await page.waitForURL(`${base}/login`);
    await page.goto(`${base}/profile`);
    await page.waitForURL(`${base}/login?next=%2Fprofile`);
    expectNoProblems(problems);
    await context.close();
  });

  it('keeps a plain user out of /admin, in words and at the API', async () => {
    await createUser(base, 'quincy');
    const { context, page, problems } = await loggedInContext(browser, base, 'quincy');
    expect(await page.locator('nav.sections a:text-is("Admin")').count()).toBe(0);
    await page.goto(`${base}/admin`);
    await page.waitForSelector('h1:text-is("Not allowed")');
    const res = await page.evaluate(() => fetch('/api/users/1', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'user' }) }).then((r) => r.status));
    expect(res).toBe(403);
    expectNoProblems(problems);
    await context.close();
  });

  it('an admin creates a user, changes a role, disables (ending their chat) and deletes', async () => {
    await createUser(base, 'rita');
    const rita = await loggedInContext(browser, base, 'rita');
    await rita.page.goto(`${base}/chat`);
    await rita.page.waitForSelector('.conn:text-is("Connected")');

    const { context, page, problems } = await loggedInContext(browser, base, 'boss');
    await page.click('nav.sections a:text-is("Admin")');
    await page.waitForSelector('#users tbody tr');
    await page.fill('form input:not([type=password])', 'sam');
    await page.fill('form input[type=password]', 'sams-password-1');
    await page.click('button:text-is("Add user")');
    const row = (name: string) => page.locator('#users tbody tr', { has: page.locator(`strong:text-is("${name}")`) });
    await row('sam').waitFor();
    await row('sam').locator('select').selectOption('admin');
    await expect.poll(async () => (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'sam', password: 'sams-password-1' } })).body.user?.role).toBe('admin');

    // Storage: each user's use and quota, and a new quota for one of them.
    await row('sam').locator('button:text-is("Quota")').click();
    await page.fill('dialog input[type=number]', '25');
    await page.click('dialog button:text-is("Save quota")');
    await expect.poll(() => row('sam').locator('.quota').textContent()).toBe('0 B of 25 MB');
    const samId = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'sam', password: 'sams-password-1' } })).body.user.id;
    const boss = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } })).body.accessToken;
    expect((await api(base, 'GET', `/api/users/${samId}/usage`, { token: boss })).body.quotaBytes).toBe(25 * 1024 * 1024);

    await page.fill('input[aria-label="Search users"]', 'rit');
    await expect.poll(() => page.locator('#users tbody tr').count()).toBe(1);
    await row('rita').locator('button:text-is("Disable")').click();
    await row('rita').locator('td:text-is("Disabled")').waitFor();
    // Her open chat ends: the socket is closed and the page goes to the login page.
    await rita.page.waitForURL(/\/login\?next=%2Fchat/, { timeout: 45_000 });
    await page.fill('input[aria-label="Search users"]', '');
    await shot(page, 'admin-users', true);

    await row('sam').locator('button:text-is("Delete")').click();
    expect(await page.textContent('dialog')).toContain('cannot be undone');
    await page.click('dialog button:text-is("Delete user")');
    await expect.poll(() => row('sam').count()).toBe(0);
    expectNoProblems(problems);
    await context.close();
    await rita.context.close();
  });

  it('looks right in the dark theme and at phone width', async () => {
    await createUser(base, 'tess');
    const token = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'tess', password: PASSWORD } })).body.accessToken;
    await fetch(`${base}/api/files/raw`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'file-name': 'quarterly-report-final-v2.pdf' }, body: Buffer.from('%PDF-1.4 demo') });
    const room = (await api(base, 'POST', '/api/chat/rooms', { token, json: { name: 'design' } })).body.room.id;
    await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token, json: { body: 'The new colours are in https://example.com/palette — thoughts?' } });

    const dark = await loggedInContext(browser, base, 'tess', { colorScheme: 'dark' });
    const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(17, 20, 26)');
    await shot(dark.page, 'dark-files');
    await dark.page.goto(`${base}/chat/${room}`);
    await dark.page.waitForSelector('.msg');
    await shot(dark.page, 'dark-chat');
    await dark.page.goto(`${base}/profile`);
    await dark.page.waitForSelector('#sessions tbody tr');
    await shot(dark.page, 'dark-profile', true);
    expectNoProblems(dark.problems);
    await dark.context.close();

    const phone = await loggedInContext(browser, base, 'tess', { viewport: { width: 390, height: 844 } });
    const width = await phone.page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await shot(phone.page, 'phone-files', true);
    await phone.page.goto(`${base}/chat/${room}`);
    await phone.page.waitForSelector('.msg');
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(phone.page, 'phone-chat');
    expectNoProblems(phone.problems);
    await phone.context.close();
  });
});
