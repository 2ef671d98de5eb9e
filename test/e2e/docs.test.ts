import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchChromium, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The API docs render under Plaza's CSP, with nothing refused, in a real Chromium. */
describe.runIf(browserAvailable())('API docs in a real Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it.each([
    ['/docs', '.swagger-ui .info .title', 'swagger-ui'],
    ['/redoc', 'h1', 'redoc'],
  ])('%s renders the Plaza API without a CSP violation', async (path, titleSelector, shot) => {
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('console', (m) => {
      // ReDoc's sidebar badge loads its logo from a CDN; the CSP keeps the page from calling out
      // (and the badge hides itself). Anything else refused is a policy that breaks the docs.
      if (m.text().includes('https://cdn.redoc.ly/redoc/logo-mini.svg')) return;
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    page.on('pageerror', (e) => refused.push(String(e)));
    await page.goto(`${server.url}${path}`);
    await page.waitForSelector(titleSelector);
    expect(await page.textContent(titleSelector)).toContain('Plaza API');
    await screenshot(page, shot, false);
    expect(refused).toEqual([]);
    await context.close();
  });
});
