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
declare const localStorage: any;

/**
 * The Files page in a real Chromium: uploads by picker and by a real drop of several files, the
 * list (thumbnails, sort, category, search, grid), previews, download, rename, delete behind a
 * confirmation, share links opened logged out, file names that try to be HTML, and a session
 * that ends under an open page.
 */
/** A small, valid PDF of `pages` pages, each with a blue bar and a line of text (xref offsets computed). */
function makePdf(pages: number): Buffer {
  const objects: string[] = [];
  const pageIds = Array.from({ length: pages }, (_, i) => 4 + i * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  pageIds.forEach((id, i) => {
    const stream = `0.2 0.35 0.85 rg 50 640 500 80 re f BT /F1 36 Tf 72 560 Td (Quarterly report, page ${i + 1}) Tj ET`;
    objects[id] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${id + 1} 0 R >>`;
    objects[id + 1] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  });
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = out.length;
    out += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = out.length;
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

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

  it('previews a PDF inside the page: its pages drawn in the dialog, under the app\'s CSP', async () => {
    await createUser(base, 'pedro');
    const { context, page, problems } = await loggedInContext(browser, base, 'pedro');
    const csp: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await page.setInputFiles('input[type=file]', [{ name: 'report.pdf', mimeType: 'application/pdf', buffer: makePdf(2) }]);
    await page.waitForSelector('#upload-total:has-text("1 upload finished")');
    await rowOf(page, 'report.pdf').locator('button.link').click();
    const first = page.locator('dialog .pdf-page[aria-label="Page 1 of 2"]');
    await first.waitFor({ timeout: 20_000 });
    await page.waitForSelector('dialog .pdf-view p:text-is("2 pages")');
    await expect.poll(() => page.locator('dialog .pdf-page').count()).toBe(2);
    // The page is really drawn: the blue bar is there, near the top of the first canvas.
    await expect
      .poll(() =>
        first.evaluate((canvas: any) => {
          const ctx = canvas.getContext('2d');
          const { data } = ctx.getImageData(0, 0, canvas.width, Math.floor(canvas.height / 4));
          let blue = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 180 && data[i] < 90) blue++;
          return blue;
        }),
      )
      .toBeGreaterThan(1000);
    // Inside the page: no new tab, no download, no plugin frame.
    expect(context.pages()).toHaveLength(1);
    expect(await page.locator('dialog iframe, dialog embed, dialog object').count()).toBe(0);
    await shot(page, 'files-preview-pdf');
    await page.keyboard.press('Escape');
    expect(csp).toEqual([]);

    // Something that says it is a PDF and is not: a sentence and the download, no crash.
    await page.setInputFiles('input[type=file]', [{ name: 'broken.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\nnot really a pdf') }]);
    await page.waitForSelector('#upload-total:has-text("2 uploads finished")');
    const broken = rowOf(page, 'broken.pdf').locator('button.link');
    await broken.click();
    const mime = await page.evaluate(() => fetch('/api/files').then((r) => r.json() as Promise<any>).then((l) => l.files.find((f: any) => f.name === 'broken.pdf').mime));
    expect(mime).toBe('application/pdf');
    await page.waitForSelector('dialog .pdf-view [role=alert]:has-text("This PDF could not be shown.")', { timeout: 20_000 });
    expect(await page.locator('dialog .pdf-view a:text-is("Download it")').count()).toBe(1);
    await page.keyboard.press('Escape');
    expectNoProblems(problems.filter((p) => !/Invalid PDF structure|InvalidPDFException/.test(p)));
    await context.close();
  });

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
    // Trying again cannot help: no Resume, no Cancel; Remove takes it off the list.
    const failed = page.locator('.upload.error[data-upload="big-video.bin"]');
    expect(await failed.locator('button:text-is("Resume")').count()).toBe(0);
    expect(await failed.locator('button:text-is("Cancel")').count()).toBe(0);
    expect(await failed.locator('button:text-is("Remove")').getAttribute('aria-label')).toBe('Remove big-video.bin from the list');
    expect(await page.textContent('#upload-total')).toContain('1 failed');
    await shot(page, 'files-quota-error');
    await failed.locator('button:text-is("Remove")').click();
    await expect.poll(() => page.locator('.upload').count()).toBe(0);
    // Nothing is left to continue after a reload either.
    await page.reload();
    await page.waitForSelector('h1:text-is("Files")');
    expect(await page.locator('#unfinished').count()).toBe(0);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k: string) => k.startsWith('tus::')))).toEqual([]);

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
    // The app's chat socket is re-checked the moment the session ends and closed with 4001, so the
    // page goes to the login at once; any request refused with 401 would take it there too.
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
