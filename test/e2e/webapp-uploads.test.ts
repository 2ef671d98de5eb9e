import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

// Code inside page.evaluate() runs in the browser; the test program has no DOM types.
declare const localStorage: any;

/**
 * Resumable uploads in a real Chromium: a throttled upload paused and resumed, then cut by a page
 * reload and finished by adding the same file again (tus-js-client finds it by fingerprint), with
 * the right SHA-256; and a file over the server's size limit refused in words.
 */
describe.runIf(browserAvailable())('uploads on the Files page', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_MAX_UPLOAD_BYTES: String(40 * 1024 * 1024) });
    base = server.url;
    browser = await launchChromium();
    dir = mkdtempSync(path.join(tmpdir(), 'plaza-upload-'));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Uploads leave the browser at about this rate (Chromium's own network emulation). */
  async function throttle(page: Page, bytesPerSecond: number) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  }
  const percent = async (page: Page) => Number(await page.locator('.upload .bar').first().getAttribute('aria-valuenow'));

  it('pauses, resumes, survives a reload and finishes with the right bytes', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const file = path.join(dir, 'survey-footage.bin');
    writeFileSync(file, data);
    await createUser(base, 'uma');
    const { context, page, problems } = await loggedInContext(browser, base, 'uma');
    await throttle(page, 3 * 1024 * 1024);
    await page.setInputFiles('input[type=file]', file, { timeout: 30_000 });
    await expect.poll(() => percent(page), { timeout: 20_000 }).toBeGreaterThan(5);
    expect(await page.textContent('.upload .meta')).toMatch(/Uploading · .* of 24 MB · .*\/s/);
    await shot(page, 'files-upload-progress');

    await page.click('.upload button:text-is("Pause")');
    await page.waitForSelector('.upload .meta:has-text("Paused")');
    const paused = await percent(page);
    await page.waitForTimeout(700);
    expect(await percent(page)).toBe(paused);
    await page.click('.upload button:text-is("Resume")');
    await page.waitForSelector('.upload .meta:has-text("(resumed)")');
    await expect.poll(() => percent(page), { timeout: 20_000 }).toBeGreaterThan(paused + 5);

    // A reload cuts the upload; the page names it and the same file continues it.
    await page.reload();
    await page.waitForSelector('#unfinished:has-text("survey-footage.bin")');
    await shot(page, 'files-upload-unfinished');
    await throttle(page, 12 * 1024 * 1024);
    const offsets: number[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH' && r.url().includes('/api/files/tus/')) offsets.push(Number(r.headers()['upload-offset']));
    });
    await page.setInputFiles('input[type=file]', file, { timeout: 30_000 });
    await page.waitForSelector('.upload .meta:has-text("(resumed)")');
    // It continues from what the server already had, not from the start.
    await expect.poll(() => offsets.length).toBeGreaterThan(0);
    expect(offsets[0]).toBeGreaterThan(data.length * 0.05);
    await page.waitForSelector('.upload.done', { timeout: 30_000 });
    const listed = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>));
    expect(listed.files).toHaveLength(1);
    expect(listed.files[0].size).toBe(data.length);
    expect(listed.files[0].sha256).toBe(createHash('sha256').update(data).digest('hex'));
    // Finished uploads leave nothing behind to resume.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')))).toEqual([]);
    expectNoProblems(problems);
    await context.close();
  }, 60_000);

  it('rides out a cut connection: the upload retries on its own and finishes intact', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    await createUser(base, 'wes');
    const { context, page, problems } = await loggedInContext(browser, base, 'wes');
    const tusCalls: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/files/tus')) tusCalls.push(r.method());
    });
    await throttle(page, 3 * 1024 * 1024);
    const recording = path.join(dir, 'field-recording.wav');
    writeFileSync(recording, data);
    await page.setInputFiles('input[type=file]', recording, { timeout: 30_000 });
    await expect.poll(() => percent(page), { timeout: 20_000 }).toBeGreaterThan(10);
    // The connection carrying the upload is cut mid-body (what a dropped Wi-Fi does to it).
    server.app.server.closeAllConnections();
    await throttle(page, -1);
    await page.waitForSelector('.upload.done', { timeout: 40_000 });
    const listed = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>));
    expect(listed.files[0].sha256).toBe(createHash('sha256').update(data).digest('hex'));
    // The drop cut the first PATCH: tus asked the server for its offset (HEAD) and went on from there.
    expect(tusCalls.filter((m) => m === 'PATCH').length).toBeGreaterThan(1);
    expect(tusCalls).toContain('HEAD');
    expectNoProblems(problems);
    await context.close();
  }, 60_000);

  it('cancels an upload, and refuses a file over the size limit in words', async () => {
    await createUser(base, 'vic');
    const { context, page, problems } = await loggedInContext(browser, base, 'vic');
    await throttle(page, 1024 * 1024);
    const slow = path.join(dir, 'slow.bin');
    writeFileSync(slow, randomBytes(8 * 1024 * 1024));
    await page.setInputFiles('input[type=file]', slow, { timeout: 30_000 });
    await expect.poll(() => percent(page), { timeout: 20_000 }).toBeGreaterThan(1);
    await page.click('.upload button:text-is("Cancel")');
    await expect.poll(() => page.locator('.upload').count()).toBe(0);

    await throttle(page, -1);
    // From disk: handing Chromium 41 MB through the protocol is slow on a busy machine.
    const huge = path.join(dir, 'huge.iso');
    writeFileSync(huge, Buffer.alloc(41 * 1024 * 1024));
    await page.setInputFiles('input[type=file]', huge, { timeout: 30_000 });
    const error = page.locator('.upload.error .meta');
    await expect.poll(() => error.textContent()).toBe('This file is too big: the server accepts files up to 40 MB.');
    // The same file will be refused again: Remove instead of Resume.
    const row = page.locator('.upload.error[data-upload="huge.iso"]');
    expect(await row.locator('button:text-is("Resume")').count()).toBe(0);
    expect(await row.locator('button:text-is("Remove")').count()).toBe(1);
    await shot(page, 'files-too-big');
    await row.locator('button:text-is("Remove")').click();
    await expect.poll(() => page.locator('.upload').count()).toBe(0);
    const listed = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>));
    expect(listed.total).toBe(0);
    expectNoProblems(problems);
    await context.close();
  }, 60_000);
});
