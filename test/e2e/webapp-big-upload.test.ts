import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

const MB = 1024 * 1024;
const SIZE = 200 * MB;

/**
 * A 200 MB upload in Chromium whose network goes away mid-way (the browser goes offline and the
 * connection carrying the PATCH is cut) and comes back: tus-js-client retries on its own and finishes; and the
 * same 200 MB file cut by a page reload, continued from the server's offset. Each ends with the
 * bytes the server stored hashed on the server's side (its SHA-256, and the content downloaded
 * back and hashed here) equal to the file's.
 */
describe.runIf(browserAvailable())('a 200 MB upload on the Files page', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let dir: string;
  let file: string;
  let sha256: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_MAX_UPLOAD_BYTES: String(256 * MB) });
    base = server.url;
    browser = await launchChromium();
    dir = mkdtempSync(path.join(tmpdir(), 'plaza-big-upload-'));
    file = path.join(dir, 'site-survey.mov');
    // Random bytes written in 8 MB pieces, hashed as they are written.
    const hash = createHash('sha256');
    const fd = openSync(file, 'w');
    for (let at = 0; at < SIZE; at += 8 * MB) {
      const piece = randomBytes(8 * MB);
      hash.update(piece);
      writeSync(fd, piece);
    }
    closeSync(fd);
    sha256 = hash.digest('hex');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Chromium's network emulation: an upload rate in bytes per second (-1: none), or no network at all. */
  const sessions = new WeakMap<Page, CDPSession>();
  async function network(page: Page, conditions: { offline?: boolean; upload?: number }) {
    let cdp = sessions.get(page);
    if (!cdp) {
      cdp = await page.context().newCDPSession(page);
      sessions.set(page, cdp);
      await cdp.send('Network.enable');
    }
    await cdp.send('Network.emulateNetworkConditions', {
      offline: conditions.offline ?? false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: conditions.upload ?? -1,
    });
  }
  const percent = async (page: Page) => Number(await page.locator('.upload .bar').first().getAttribute('aria-valuenow'));

  /** What the server holds for the user: its recorded SHA-256, and the content streamed back and hashed. */
  async function storedOnServer(username: string) {
    const token = (await api(base, 'POST', '/api/auth/login', { json: { identifier: username, password: PASSWORD } })).body.accessToken;
    const listed = await api(base, 'GET', '/api/files', { token });
    expect(listed.body.files).toHaveLength(1);
    const stored = listed.body.files[0];
    const res = await fetch(`${base}/api/files/${stored.id}/content`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { size: stored.size as number, sha256: stored.sha256 as string, bytes, downloaded: hash.digest('hex') };
  }

  it('the network drops mid-way: the upload waits, retries on its own and finishes with the right SHA-256', async () => {
    await createUser(base, 'nadia');
    const { context, page, problems } = await loggedInContext(browser, base, 'nadia');
    const patches: Array<{ offset: number }> = [];
    const failed: string[] = [];
    const methods: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH' && r.url().includes('/api/files/tus/')) patches.push({ offset: Number(r.headers()['upload-offset']) });
      if (r.url().includes('/api/files/tus/')) methods.push(r.method());
    });
    page.on('requestfailed', (r) => {
      if (r.url().includes('/api/files/tus/')) failed.push(`${r.method()} ${r.failure()?.errorText ?? ''}`);
    });
    // Slow enough to catch mid-way on a busy machine: about 8 s for the whole file.
    await network(page, { upload: 25 * MB });
    await page.setInputFiles('input[type=file]', file, { timeout: 60_000 });
    await expect.poll(() => percent(page), { timeout: 30_000, interval: 100 }).toBeGreaterThan(20);

    // The network goes away: no new request gets out, and the connection carrying the PATCH dies
    // (Chromium's offline emulation stalls a request already sending; a dropped link kills it).
    await network(page, { offline: true });
    server.app.server.closeAllConnections();
    // tus asks the server where it got to (HEAD): offline, that fails too, and is retried later.
    await expect.poll(() => failed.some((f) => /^HEAD net::ERR_INTERNET_DISCONNECTED/.test(f)), { timeout: 10_000 }).toBe(true);
    const stalled = await percent(page);
    await page.waitForTimeout(1000);
    // Nothing moves while offline, and the upload is not given up (no Resume button to press).
    expect(await percent(page)).toBe(stalled);
    expect(stalled).toBeLessThan(100);
    expect(await page.locator('.upload.error').count()).toBe(0);
    expect(await page.textContent('.upload .meta')).toMatch(/^Connection lost, retrying · \d+ MB of 200 MB$/);
    await shot(page, 'files-upload-offline');

    await network(page, { upload: -1 });
    await page.waitForSelector('.upload.done', { timeout: 90_000 });
    // It went on from what the server had, not from the start.
    expect(methods.filter((m) => m === 'HEAD').length).toBeGreaterThan(1);
    const after = patches.slice(1).map((p) => p.offset);
    expect(after.length).toBeGreaterThan(0);
    expect(after.some((o) => o > 0.2 * SIZE)).toBe(true);
    const stored = await storedOnServer('nadia');
    expect(stored).toEqual({ size: SIZE, sha256, bytes: SIZE, downloaded: sha256 });
    expectNoProblems(problems);
    await context.close();
  }, 180_000);

  it('cut by a page reload: the same file added again continues from the server’s offset and ends with the right SHA-256', async () => {
    await createUser(base, 'omar');
    const { context, page, problems } = await loggedInContext(browser, base, 'omar');
    await network(page, { upload: 25 * MB });
    await page.setInputFiles('input[type=file]', file, { timeout: 60_000 });
    // Past the first 64 MB chunk, so the server has bytes to continue from.
    await expect.poll(() => percent(page), { timeout: 30_000, interval: 100 }).toBeGreaterThan(40);
    await page.reload();
    await page.waitForSelector('#unfinished:has-text("site-survey.mov")');
    const offsets: number[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH' && r.url().includes('/api/files/tus/')) offsets.push(Number(r.headers()['upload-offset']));
    });
    await network(page, { upload: -1 });
    await page.setInputFiles('input[type=file]', file, { timeout: 60_000 });
    await page.waitForSelector('.upload .meta:has-text("(resumed)")');
    await page.waitForSelector('.upload.done', { timeout: 90_000 });
    expect(offsets[0]).toBeGreaterThanOrEqual(64 * MB);
    const stored = await storedOnServer('omar');
    expect(stored).toEqual({ size: SIZE, sha256, bytes: SIZE, downloaded: sha256 });
    expectNoProblems(problems);
    await context.close();
  }, 180_000);
});
