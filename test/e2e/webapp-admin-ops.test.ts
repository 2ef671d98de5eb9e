import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { accessibilityProblems, createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

const XSS = '<img src=x onerror=alert(1)>';

/**
 * Admin → Database console and Admin → Audit log in a real Chromium: tables, a query as a table and
 * a chart (chart.js fetched only then), refusals and the write switch in words, saved queries run
 * with one click after a reload, history, a CSV export; the audit log filtered; HTML in results,
 * audit targets and details shown as text; axe-core on both pages; non-admins kept out.
 */
describe.runIf(browserAvailable())('the database console and audit log pages', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: PASSWORD, PLAZA_CONSOLE_TIMEOUT_MS: '2000' });
    base = server.url;
    browser = await launchChromium();
    await createUser(base, 'pia');
    await createUser(base, 'quinn');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs queries as a table and a chart, refuses writes in words, saves and re-runs queries, exports CSV', async () => {
    const { context, page, problems } = await loggedInContext(browser, base, 'boss');
    const assets: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/assets/')) assets.push(new URL(r.url()).pathname);
    });
    await page.reload();
    await page.waitForSelector('h1:text-is("Files")');
    // The app's first load carries neither the console nor chart.js.
    expect(assets.some((a) => /console|chart/.test(a))).toBe(false);

    await page.click('nav.sections a:text-is("Admin")');
    await page.click('nav.admin-nav a:text-is("Database console")');
    await page.waitForSelector('h1:text-is("Database console")');
    await expect.poll(() => page.locator('#tables li').count()).toBeGreaterThan(10);
    expect(await page.textContent('#tables')).toContain('audit_log');
    expect(assets.some((a) => /console-chart/.test(a))).toBe(false);

    await page.click('button:text-is("Run")');
    await page.waitForSelector('#result tbody tr');
    expect(await page.textContent('#result-summary')).toMatch(/2 rows in \d+ ms \(read-only\)/);
    await page.selectOption('.chart-panel select', 'bar');
    await page.waitForSelector('.chart-box canvas');
    expect(assets.some((a) => /console-chart/.test(a))).toBe(true);
    await shot(page, 'console-chart', true);

    // HTML in results is text.
    await page.fill('#sql', `select '${XSS}' as payload, '<script>alert(2)</script>' as "<b>col</b>"`);
    await page.click('button:text-is("Run")');
    await page.waitForSelector('#result td');
    expect(await page.locator('#result td').first().textContent()).toBe(XSS);
    expect(await page.locator('#result th').nth(1).textContent()).toBe('<b>col</b>');
    expect(await page.locator('#result img, #result script, #result b').count()).toBe(0);

    // Refusals in words.
    await page.fill('#sql', "delete from users where username = 'pia'");
    await page.click('button:text-is("Run")');
    await expect.poll(() => page.textContent('#console-error')).toMatch(/read-only unless the write switch is on/);
    await page.check('#write');
    await page.click('button:text-is("Run and commit")');
    await expect.poll(() => page.textContent('#console-error')).toMatch(/access key/);
    await shot(page, 'console-write-refused');
    expect(page.url()).toBe(`${base}/admin/console`);
    await page.uncheck('#write');
    await page.fill('#sql', "ATTACH DATABASE '/tmp/x.db' AS x");
    await page.click('button:text-is("Run")');
    await expect.poll(() => page.textContent('#console-error')).toMatch(/ATTACH/);
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'pia', password: PASSWORD } })).status).toBe(200);

    // Saved with its chart, re-run with one click after a reload.
    await page.fill('#sql', 'select role, count(*) as n from users group by role order by role');
    await page.click('button:text-is("Run")');
    await page.waitForSelector('#result tbody tr');
    await page.selectOption('.chart-panel select', 'pie');
    await page.fill('input[aria-label="Name for this query"]', `Roles ${XSS}`);
    await page.click('button:text-is("Save query")');
    await page.waitForSelector(`#saved button:text-is("Roles ${XSS}")`);
    await page.reload();
    await page.waitForSelector('#saved li');
    await page.click(`#saved button:text-is("Roles ${XSS}")`);
    await page.waitForSelector('.chart-box canvas');
    expect(await page.inputValue('#sql')).toContain('group by role');
    expect(await page.locator('#result tbody tr').count()).toBe(2);
    await expect.poll(() => page.locator('#history li').count()).toBeGreaterThan(3);
    expect(await page.textContent('#history')).toContain('ATTACH');

    // A CSV export, formula-safe.
    await page.fill('#sql', "select '=1+1' as f, 'ok' as g");
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:text-is("Export CSV")')]);
    expect(download.suggestedFilename()).toMatch(/^plaza-query-\d{8}T\d{6}Z\.csv$/);
    expect(readFileSync((await download.path()) as string, 'utf8')).toBe("f,g\n'=1+1,ok\n");

    // A table's columns and first rows, hashes masked.
    await page.click('#tables button:text-is("users")');
    await page.waitForSelector('dialog[open]');
    expect(await page.textContent('dialog[open]')).toContain('[masked]');
    expect(await page.textContent('dialog[open]')).not.toContain('$argon2');
    await shot(page, 'console-table');
    expect(await accessibilityProblems(page)).toEqual([]);
    await page.click('dialog[open] button:text-is("Close")');
    expect(await accessibilityProblems(page)).toEqual([]);
    expectNoProblems(problems);
    await context.close();

    const dark = await loggedInContext(browser, base, 'boss', { colorScheme: 'dark', viewport: { width: 390, height: 844 } });
    await dark.page.goto(`${base}/admin/console`);
    await dark.page.waitForSelector('#tables li');
    await dark.page.click('button:text-is("Run")');
    await dark.page.waitForSelector('#result tbody tr');
    await shot(dark.page, 'console-dark-phone', true);
    expect(await accessibilityProblems(dark.page)).toEqual([]);
    expectNoProblems(dark.problems);
    await dark.context.close();
  });

  it('shows the audit log, filtered, with HTML in targets and details as text', async () => {
    expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: XSS, password: 'wrong-password' } })).status).toBe(401);
    const { context, page, problems } = await loggedInContext(browser, base, 'boss');
    await page.goto(`${base}/admin/audit`);
    await page.waitForSelector('#audit tbody tr');
    expect(await page.textContent('#audit')).toContain('Console query');
    await page.selectOption('#audit-action', 'login');
    await page.selectOption('#audit-outcome', 'failure');
    await page.click('button:text-is("Filter")');
    await expect.poll(async () => (await page.locator('#audit tbody tr').allTextContents()).every((t) => t.includes('Failure'))).toBe(true);
    expect(await page.locator('#audit tbody td', { hasText: XSS }).count()).toBe(1);
    expect(await page.locator('#audit img').count()).toBe(0);
    await page.selectOption('#audit-action', 'console.query');
    await page.selectOption('#audit-outcome', '');
    await page.fill('#audit-q', 'onerror');
    await page.click('button:text-is("Filter")');
    await expect.poll(() => page.locator('#audit tbody tr').count()).toBeGreaterThan(0);
    expect(await page.textContent('#audit')).toContain(`select '${XSS}' as payload`);
    expect(await page.locator('#audit img, #audit script').count()).toBe(0);
    await page.fill('#audit-q', '');
    await page.selectOption('#audit-action', '');
    await page.click('button:text-is("Filter")');
    await page.waitForSelector('#audit tbody tr');
    await shot(page, 'audit-log', true);
    expect(await accessibilityProblems(page)).toEqual([]);
    expectNoProblems(problems);
    await context.close();
  });

  it('keeps non-admins out of both pages', async () => {
    const { context, page, problems } = await loggedInContext(browser, base, 'quinn');
    for (const path of ['/admin/console', '/admin/audit']) {
      await page.goto(`${base}${path}`);
      await page.waitForSelector('h1:text-is("Not allowed")');
    }
    expect(await page.locator('#tables, #audit').count()).toBe(0);
    expectNoProblems(problems);
    await context.close();
  });
});
