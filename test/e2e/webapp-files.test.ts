import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createAdmin, createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

// Code inside page.evaluate() runs in the browser; the test program has no DOM types.
declare const DataTransfer: any;
declare const DragEvent: any;
declare const document: any;
declare const navigator: any;
declare const window: any;

/**
 * The Files page in a real Chromium: uploads by picker and by a real drop of several files, the
 * list (thumbnails, sort, category, search, grid), previews, download, rename, delete behind a
 * confirmation, share links opened logged out, file names that try to be HTML, and a session
 * that ends under an open page.
 */
describe.runIf(browserAvailable())('the Files page', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;
  let image: Buffer;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    base = server.url;
    browser = await launchChromium();
    image = await sharp({ create: { width: 640, height: 400, channels: 3, background: { r: 53, g: 88, b: 214 } } })
      .composite([{ input: Buffer.from('<svg width="640" height="400"><circle cx="320" cy="200" r="120" fill="#ffb020"/></svg>') }])
      .png()
      .toBuffer();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Drops files on the page the way a desktop drag does: real DragEvents with a DataTransfer. */
  async function dropFiles(page: Page, files: { name: string; type: string; text: string }[]) {
    await page.evaluate((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([f.text], f.name, { type: f.type }));
      const target = document.querySelector('main') ?? document.body;
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      }
    }, files);
  }

  const rowOf = (page: Page, name: string) => page.locator('#file-list tbody tr', { has: page.locator(`button.link:text-is(${JSON.stringify(name)})`) });

  it('uploads by picker and by dropping several files; lists, sorts, filters, searches and previews them', async () => {
    await createUser(base, 'fiona');
    const { context, page, problems } = await loggedInContext(browser, base, 'fiona');
    expect(await page.textContent('.empty')).toContain('No files yet');
    await shot(page, 'files-empty');

    await page.setInputFiles('input[type=file]', [
      { name: 'harbour.png', mimeType: 'image/png', buffer: image },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Meeting notes\n- ship the web app\n') },
    ]);
    await dropFiles(page, [
      { name: 'budget.csv', type: 'text/csv', text: 'item,cost\nchairs,120\n' },
      { name: 'readme.md', type: 'text/markdown', text: '# Plaza\nHello' },
      { name: 'archive.bin', type: 'application/octet-stream', text: 'x'.repeat(5000) },
    ]);
    await page.waitForSelector('#upload-total:has-text("5 uploads finished")');
    await expect.poll(() => page.locator('#file-list tbody tr').count()).toBe(5);
    const totalText = await page.textContent('#upload-total');
    expect(totalText).toContain('100%');

    // Every file is stored with the bytes that were sent.
    const listed = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>));
    const png = listed.files.find((f: { name: string }) => f.name === 'harbour.png');
    expect(png.sha256).toBe(createHash('sha256').update(image).digest('hex'));
    expect(png.category).toBe('images');

    // The image row shows a real thumbnail.
    const thumb = rowOf(page, 'harbour.png').locator('img.thumb');
    await expect.poll(() => thumb.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    await shot(page, 'files-list');

    // Sort by name, filter by category, search.
    await page.selectOption('select[aria-label=Sort]', 'az');
    await expect.poll(() => page.locator('#file-list tbody tr button.link').allTextContents()).toEqual(['archive.bin', 'budget.csv', 'harbour.png', 'notes.txt', 'readme.md']);
    await page.selectOption('select[aria-label=Category]', 'images');
    await expect.poll(() => page.locator('#file-list tbody tr button.link').allTextContents()).toEqual(['harbour.png']);
    await page.selectOption('select[aria-label=Category]', '');
    await page.fill('input[type=search]', 'NOTE');
    await expect.poll(() => page.locator('#file-list tbody tr button.link').allTextContents()).toEqual(['notes.txt']);
    await page.fill('input[type=search]', 'zzz');
    await page.waitForSelector('.empty:has-text("No file matches")');
    await page.fill('input[type=search]', '');

    // Previews: the image in a lightbox, the text as text.
    await rowOf(page, 'harbour.png').locator('button.link').click();
    const big = page.locator('dialog .preview img');
    await expect.poll(() => big.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth)).toBe(640);
    await shot(page, 'files-preview-image');
    await page.keyboard.press('Escape');
    await rowOf(page, 'notes.txt').locator('button.link').click();
    await expect.poll(() => page.textContent('dialog .preview pre')).toContain('ship the web app');
    await page.click('dialog button:text-is("Close")');

    // Download keeps the name and the bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), rowOf(page, 'budget.csv').locator('a:text-is("Download")').click()]);
    expect(download.suggestedFilename()).toBe('budget.csv');
    const chunks: Buffer[] = [];
    for await (const c of await download.createReadStream()) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('item,cost\nchairs,120\n');

    // Grid view, remembered.
    await page.click('button:text-is("Grid view")');
    await page.waitForSelector('#file-grid .tile');
    await shot(page, 'files-grid');
    await page.click('button:text-is("List view")');
    expectNoProblems(problems);
    await context.close();
  });

  it('renames, and deletes only after the confirmation', async () => {
    await createUser(base, 'gus');
    const { context, page, problems } = await loggedInContext(browser, base, 'gus');
    await page.setInputFiles('input[type=file]', [{ name: 'draft.txt', mimeType: 'text/plain', buffer: Buffer.from('v1') }]);
    await page.waitForSelector('#file-list button.link:text-is("draft.txt")');

    await rowOf(page, 'draft.txt').locator('button:text-is("Rename")').click();
    await page.fill('dialog input', 'final.txt');
    await page.click('dialog button:text-is("Rename")');
    await page.waitForSelector('#file-list button.link:text-is("final.txt")');

    await rowOf(page, 'final.txt').locator('button:text-is("Delete")').click();
    expect(await page.textContent('dialog')).toContain('will be deleted for good');
    await shot(page, 'files-delete-confirm');
    await page.click('dialog button:text-is("Cancel")');
    expect(await page.locator('#file-list tbody tr').count()).toBe(1);
    await rowOf(page, 'final.txt').locator('button:text-is("Delete")').click();
    await page.click('dialog button:text-is("Delete")');
    await page.waitForSelector('.empty');
    const left = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>));
    expect(left.total).toBe(0);
    expectNoProblems(problems);
    await context.close();
  });

  it('makes a share link with an expiry and a download limit that works logged out, and revokes it', async () => {
    await createUser(base, 'hugo');
    const { context, page, problems } = await loggedInContext(browser, base, 'hugo');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.setInputFiles('input[type=file]', [{ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('the plan') }]);
    await page.waitForSelector('#file-list button.link:text-is("plan.txt")');
    await rowOf(page, 'plan.txt').locator('button:text-is("Share")').click();
    await page.selectOption('dialog select', String(7 * 86_400));
    await page.fill('dialog input[type=number]', '2');
    await page.click('dialog button:text-is("Create link")');
    const link = await page.locator('#share-link').inputValue();
    expect(link).toMatch(new RegExp(`^${base}/s/[\\w-]+$`));
    await page.click('dialog button:text-is("Copy link")');
    await page.waitForSelector('dialog button:text-is("Copied")');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    expect(await page.textContent('dialog table.shares')).toContain('0 / 2');
    await shot(page, 'files-share-dialog');

    const stranger = await browser.newContext();
    const res = await stranger.request.get(link);
    expect(res.status()).toBe(200);
    expect(await res.text()).toBe('the plan');

    await page.click('dialog table.shares button:text-is("Revoke")');
    await page.waitForSelector('dialog table.shares td:text-is("Revoked")');
    expect((await stranger.request.get(link)).status()).toBe(404);
    await stranger.close();
    expectNoProblems(problems);
    await context.close();
  });

  it('shows file names written as HTML as text, and no script runs', async () => {
    await createUser(base, 'ivy');
    const { context, page, problems } = await loggedInContext(browser, base, 'ivy');
    const names = ['<img src=x onerror="window.__xss=1">.txt', '"><script>window.__xss=2</script>.txt', 'javascript:window.__xss=3.txt', 'evil\u202Egnp.exe.txt'];
    await page.setInputFiles('input[type=file]', names.map((name) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(name) })));
    await page.waitForSelector(`#upload-total:has-text("${names.length} uploads finished")`);
    await expect.poll(() => page.locator('#file-list tbody tr').count()).toBe(names.length);
    // The server keeps names as names (a `/` never reaches a path); the page shows exactly those.
    const stored = (await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>))).files.map((f: { name: string }) => f.name);
    const shown = await page.locator('#file-list button.link').allTextContents();
    // Direction overrides are shown, not obeyed: "evil‮gnp.exe.txt" cannot pass for "eviltxt.exe.png".
    const reveal = (n: string) => n.replace('\u202E', '⟨U+202E⟩');
    expect(shown.sort()).toEqual(stored.map(reveal).sort());
    expect(shown).toContain(names[0]);
    expect(shown).toContain('evil⟨U+202E⟩gnp.exe.txt');
    expect(await page.locator('#file-list img[src=x], #file-list script').count()).toBe(0);
    await rowOf(page, names[0] ?? '').locator('button:text-is("Share")').click();
    expect(await page.textContent('dialog h2')).toContain(names[0]);
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await shot(page, 'files-xss-names');
    expectNoProblems(problems);
    await context.close();
  });

  it('says in words when an upload is over the quota', async () => {
    await createAdmin(base, server.setupUrl ?? '', 'root');
    const admin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'root', password: PASSWORD } })).body.accessToken;
    const id = await createUser(base, 'quinn');
    expect((await api(base, 'PUT', `/api/users/${id}/quota`, { token: admin, json: { quotaBytes: 50_000 } })).status).toBe(200);
    const { context, page, problems } = await loggedInContext(browser, base, 'quinn');
    await page.waitForSelector('.quota:has-text("of 49 KB used")');
    await page.setInputFiles('input[type=file]', [{ name: 'big-video.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(80_000, 7) }]);
    const error = page.locator('.upload.error .meta');
    await expect.poll(() => error.textContent()).toContain('Not enough storage left');
    expect(await error.textContent()).not.toMatch(/QUOTA_EXCEEDED|\{/);
    await shot(page, 'files-quota-error');

    await page.setInputFiles('input[type=file]', [{ name: 'fits.txt', mimeType: 'text/plain', buffer: Buffer.alloc(30_000, 65) }]);
    await page.waitForSelector('#file-list button.link:text-is("fits.txt")');
    await expect.poll(() => page.locator('.quota .bar').getAttribute('aria-valuenow')).toBe('60');
    expectNoProblems(problems);
    await context.close();
  });

  it('sends a user whose session ended to the login page, and back to where they were', async () => {
    await createUser(base, 'jules');
    const { context, page, problems } = await loggedInContext(browser, base, 'jules');
    // The session ends on the server (another tab logged out, an admin revoked it, it expired).
    expect((await context.request.post(`${base}/api/auth/logout`, { headers: { origin: base } })).status()).toBe(200);
    await page.selectOption('select[aria-label=Sort]', 'big');
    await page.waitForURL(`${base}/login?next=%2Ffiles`);
    await shot(page, 'login');
    await page.fill('input[name=username]', 'jules');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/files`);
    await page.waitForSelector('h1:text-is("Files")');

    // A fresh visit without a session goes the same way.
    const anonymous = await browser.newContext();
    const p2 = await anonymous.newPage();
    await p2.goto(`${base}/chat/7`);
    await p2.waitForURL(`${base}/login?next=%2Fchat%2F7`);
    await anonymous.close();
    expectNoProblems(problems);
    await context.close();
  });
});
