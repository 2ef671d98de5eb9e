import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { api, PASSWORD } from './api.js';

/** Where the web app suites leave screenshots for a person to look at (not committed). */
const SHOTS = path.resolve('test/e2e/screenshots');

export async function shot(page: Page, name: string, fullPage = false) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** A registered user (made an admin first when `admin`, through the first-admin setup link). */
export async function createUser(base: string, username: string, password = PASSWORD): Promise<number> {
  const r = await api(base, 'POST', '/api/auth/register', { json: { username, password } });
  if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${r.text}`);
  return r.body.user.id as number;
}

/** The first admin, from the setup token the test server printed. */
export async function createAdmin(base: string, setupUrl: string, username: string): Promise<void> {
  const token = new URL(setupUrl).searchParams.get('token');
  const r = await api(base, 'POST', '/api/setup', { json: { token, username, password: PASSWORD } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`setup: ${r.status} ${r.text}`);
}

/**
 * A browser context logged in as `username` through the real login page, every page error and
 * dialog recorded (a test ends by checking there were none).
 */
export async function loggedInContext(browser: Browser, base: string, username: string, options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {}) {
  const context = await browser.newContext({
    acceptDownloads: true,
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1280, height: 800 },
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${base}/login?next=/files`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/files`);
  await page.waitForSelector('h1:text-is("Files")');
  return { context, page, problems };
}

export function expectNoProblems(problems: string[]) {
  expect(problems).toEqual([]);
}

export type Logged = Awaited<ReturnType<typeof loggedInContext>>;
export type { BrowserContext };

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page as it is now. The engine is evaluated
 * through the DevTools protocol, which the page's CSP (no inline script) does not apply to.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const found: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))',
  );
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}
