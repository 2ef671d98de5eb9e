import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { browserAvailable, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser, expectNoProblems, loggedInContext, shot } from '../helpers/webapp.js';

// Code inside page.evaluate() runs in the browser; the test program has no DOM types.
declare const window: any;

/**
 * Chat in a real Chromium, two people in two browser contexts: a room created and joined from the
 * sidebar, messages both ways (pending until acked), presence seen by the other, a DM with an
 * unread count that survives a reload, scroll-back through a long history, and messages that try
 * to be HTML.
 */
describe.runIf(browserAvailable())('the Chat page', () => {
  let server: TestServer;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { PLAZA_PRESENCE_GRACE_SECONDS: '30' });
    base = server.url;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openChat(page: Page, path = '/chat') {
    await page.click('nav.sections a:text-is("Chat")');
    if (path !== '/chat') await page.goto(`${base}${path}`);
    await page.waitForSelector('.conn:text-is("Connected"), .conversation.empty');
  }
  const bodies = (page: Page) => page.locator('.messages .msg:not(.pending) .body').allTextContents();

  it('two people in a room: create, join, talk both ways, see each other come and go', async () => {
    await createUser(base, 'ann');
    await createUser(base, 'ben');
    const a = await loggedInContext(browser, base, 'ann');
    const b = await loggedInContext(browser, base, 'ben');

    await openChat(a.page);
    await a.page.fill('input[aria-label="New room name"]', 'general');
    await a.page.click('form:has(input[aria-label="New room name"]) button');
    await a.page.waitForURL(/\/chat\/\d+$/);
    const roomPath = new URL(a.page.url()).pathname;
    await a.page.waitForSelector('.conversation h1:text-is("#general")');

    await openChat(b.page);
    await b.page.click('.room-link:has-text("#general") button:text-is("Join")');
    await b.page.waitForURL(`${base}${roomPath}`);
    await b.page.waitForSelector('.conn:text-is("Connected")');

    await a.page.fill('textarea', 'Hello Ben!');
    await a.page.keyboard.press('Enter');
    await expect.poll(() => bodies(b.page)).toContain('Hello Ben!');
    await b.page.fill('textarea', 'Hi Ann, line one\nand line two');
    await b.page.click('.composer button:text-is("Send")');
    await expect.poll(() => bodies(a.page)).toContain('Hi Ann, line one\nand line two');
    // Acked: nothing left pending on either side.
    await expect.poll(() => a.page.locator('.msg.pending').count()).toBe(0);
    await expect.poll(() => b.page.locator('.msg.pending').count()).toBe(0);

    // Presence: Ben is listed online for Ann; when his tab dies Ann sees it.
    await expect.poll(() => a.page.locator('.members .member:has-text("ben") .dot').getAttribute('class')).toContain('online');
    await shot(a.page, 'chat-room');
    await b.context.close();
    await a.page.waitForSelector('.system:has-text("ben lost their connection")');
    await expect.poll(() => a.page.locator('.members .member:has-text("ben") .dot').getAttribute('class')).toContain('disconnected');
    await shot(a.page, 'chat-presence');

    // Ben comes back within the grace period: "is back".
    const b2 = await loggedInContext(browser, base, 'ben');
    await b2.page.goto(`${base}${roomPath}`);
    await a.page.waitForSelector('.system:has-text("ben is back")');
    await expect.poll(() => bodies(b2.page)).toEqual(['Hello Ben!', 'Hi Ann, line one\nand line two']);
    expectNoProblems(a.problems);
    expectNoProblems(b.problems);
    expectNoProblems(b2.problems);
    await b2.context.close();
    await a.context.close();
  });

  it('a DM started by name shows as unread for the other, also after a reload', async () => {
    await createUser(base, 'cara');
    await createUser(base, 'dev');
    const c = await loggedInContext(browser, base, 'cara');
    const d = await loggedInContext(browser, base, 'dev');
    await openChat(d.page);

    await openChat(c.page);
    await c.page.fill('input[aria-label="Username to message"]', 'dev');
    await c.page.click('form:has(input[aria-label="Username to message"]) button');
    await c.page.waitForSelector('.conversation h1:text-is("dev")');
    await c.page.fill('textarea', 'Got a minute?');
    await c.page.keyboard.press('Enter');
    await c.page.fill('textarea', 'About the launch.');
    await c.page.keyboard.press('Enter');
    await expect.poll(() => c.page.locator('.msg.pending').count()).toBe(0);

    const badge = d.page.locator('.room-link:has-text("cara") .badge');
    await expect.poll(() => badge.textContent()).toBe('2');
    await d.page.reload();
    await d.page.waitForSelector('.conn:text-is("Connected")');
    await expect.poll(() => badge.textContent()).toBe('2');
    await shot(d.page, 'chat-dm-unread');
    await d.page.click('.room-link:has-text("cara")');
    await expect.poll(() => bodies(d.page)).toEqual(['Got a minute?', 'About the launch.']);
    expect(await d.page.locator('.room-link:has-text("cara") .badge').count()).toBe(0);
    await d.page.reload();
    await d.page.waitForSelector('.conn:text-is("Connected")');
    expect(await d.page.locator('.room-link:has-text("cara") .badge').count()).toBe(0);

    // Away from the DM, a new message arrives: back in it, a divider marks where the new part starts.
    await d.page.click('nav.sections a:text-is("Files")');
    await c.page.fill('textarea', 'One more thing');
    await c.page.keyboard.press('Enter');
    await d.page.click('nav.sections a:text-is("Chat")');
    await expect.poll(() => badge.textContent()).toBe('1');
    await d.page.click('.room-link:has-text("cara")');
    await expect.poll(() => bodies(d.page)).toEqual(['Got a minute?', 'About the launch.', 'One more thing']);
    const afterDivider = d.page.locator('.divider:text-is("New messages") + .msg .body');
    expect(await afterDivider.textContent()).toBe('One more thing');
    await shot(d.page, 'chat-new-divider');
    expectNoProblems(c.problems);
    expectNoProblems(d.problems);
    await c.context.close();
    await d.context.close();
  });

  it('unread counts live on the server: the same user on two devices sees them, and reading on one clears the other', async () => {
    await createUser(base, 'kim');
    await createUser(base, 'lou');
    const kimToken = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'kim', password: PASSWORD } })).body.accessToken;
    const louToken = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'lou', password: PASSWORD } })).body.accessToken;
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: kimToken, json: { name: 'standup' } })).body.room.id;
    await api(base, 'POST', `/api/chat/rooms/${room}/join`, { token: louToken });
    const laptop = await loggedInContext(browser, base, 'lou');
    const phone = await loggedInContext(browser, base, 'lou', { viewport: { width: 390, height: 800 } });
    for (const body of ['one', 'two', 'three']) {
      expect((await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: kimToken, json: { body } })).status).toBe(201);
    }
    const badgeOn = (page: Page) => page.locator('.room-link:has-text("#standup") .badge');
    await openChat(laptop.page);
    await openChat(phone.page);
    await expect.poll(() => badgeOn(laptop.page).textContent()).toBe('3');
    await expect.poll(() => badgeOn(phone.page).textContent()).toBe('3');

    // Read on the laptop: the server's cursor moves; the phone shows it after a reload.
    await laptop.page.click('.room-link:has-text("#standup")');
    await expect.poll(() => bodies(laptop.page)).toEqual(['one', 'two', 'three']);
    // The page tells the server at most once a second per room.
    await expect
      .poll(async () => (await api(base, 'GET', '/api/chat/rooms', { token: louToken })).body.rooms.find((r: any) => r.id === room), { timeout: 5000 })
      .toMatchObject({ readSeq: 3, unread: 0 });
    await phone.page.reload();
    await phone.page.waitForSelector('.conn:text-is("Connected")');
    await phone.page.waitForSelector('.room-link:has-text("#standup")');
    expect(await badgeOn(phone.page).count()).toBe(0);
    // A third device that never ran the app before (nothing in its storage) agrees.
    const tablet = await loggedInContext(browser, base, 'lou');
    await openChat(tablet.page);
    await tablet.page.waitForSelector('.room-link:has-text("#standup")');
    expect(await badgeOn(tablet.page).count()).toBe(0);
    expect(await tablet.page.evaluate(() => Object.keys(window.localStorage).filter((k: string) => k.startsWith('plaza.read')))).toEqual([]);

    // One more message while the laptop is elsewhere: 1 unread on every device, also after reloads.
    await laptop.page.click('nav.sections a:text-is("Files")');
    await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token: kimToken, json: { body: 'four' } });
    await expect.poll(() => badgeOn(tablet.page).textContent()).toBe('1');
    await phone.page.reload();
    await phone.page.waitForSelector('.conn:text-is("Connected")');
    await expect.poll(() => badgeOn(phone.page).textContent()).toBe('1');
    await shot(phone.page, 'chat-unread-second-device');
    await tablet.page.click('.room-link:has-text("#standup")');
    await expect.poll(() => bodies(tablet.page)).toContain('four');
    await expect
      .poll(async () => (await api(base, 'GET', '/api/chat/rooms', { token: louToken })).body.rooms.find((r: any) => r.id === room).unread, { timeout: 5000 })
      .toBe(0);
    await laptop.page.reload();
    await laptop.page.click('nav.sections a:text-is("Chat")');
    await laptop.page.waitForSelector('.room-link:has-text("#standup")');
    await expect.poll(async () => (await api(base, 'GET', '/api/chat/rooms', { token: louToken })).body.rooms.find((r: any) => r.id === room).unread).toBe(0);
    expect(await badgeOn(laptop.page).count()).toBe(0);
    for (const x of [laptop, phone, tablet]) expectNoProblems(x.problems);
    for (const x of [laptop, phone, tablet]) await x.context.close();
  });

  it('renders messages written as HTML as text; only http(s) links become links', async () => {
    await createUser(base, 'eve');
    const e = await loggedInContext(browser, base, 'eve');
    await openChat(e.page);
    await e.page.fill('input[aria-label="New room name"]', 'xss-lab');
    await e.page.click('form:has(input[aria-label="New room name"]) button');
    await e.page.waitForSelector('.conversation h1:text-is("#xss-lab")');
    const payloads = [
      '<img src=x onerror="window.__xss=1">',
      '<script>window.__xss=2</script>',
      'javascript:window.__xss=3',
      '<a href="javascript:window.__xss=4">click</a>',
      'see https://example.com/docs?a=1&b=2 for more',
      'abc\u202Edcba\u200B zero-width',
    ];
    for (const p of payloads) {
      await e.page.fill('textarea', p);
      await e.page.keyboard.press('Enter');
    }
    // Invisible and direction-changing characters are shown, not obeyed.
    const shownAs = payloads.map((p) => p.replace('\u202E', '⟨U+202E⟩').replace('\u200B', '⟨U+200B⟩'));
    await expect.poll(() => bodies(e.page)).toEqual(shownAs);
    expect(await e.page.locator('.messages img[src=x], .messages script').count()).toBe(0);
    expect(await e.page.locator('.messages a[href^="javascript"]').count()).toBe(0);
    const links = await e.page.locator('.messages a').evaluateAll((els) => els.map((a) => [a.getAttribute('href'), a.getAttribute('rel')]));
    expect(links).toEqual([['https://example.com/docs?a=1&b=2', 'noopener noreferrer nofollow']]);
    expect(await e.page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await shot(e.page, 'chat-xss');
    expectNoProblems(e.problems);
    await e.context.close();
  });

  it('a private room stays hidden from others; a room admin removes a member, who sees the room go', async () => {
    await createUser(base, 'ivan');
    await createUser(base, 'joy');
    const i = await loggedInContext(browser, base, 'ivan');
    const j = await loggedInContext(browser, base, 'joy');
    await openChat(i.page);
    await i.page.fill('input[aria-label="New room name"]', 'board');
    await i.page.check('text=Private (invitation only)');
    await i.page.click('form:has(input[aria-label="New room name"]) button');
    await i.page.waitForSelector('.conversation h1:text-is("🔒 board")');
    await i.page.fill('input[aria-label="New room name"]', 'crew');
    await i.page.click('form:has(input[aria-label="New room name"]) button');
    await i.page.waitForSelector('.conversation h1:text-is("#crew")');
    const crew = new URL(i.page.url()).pathname;

    await openChat(j.page);
    await j.page.waitForSelector('.room-link:has-text("#crew") button:text-is("Join")');
    expect(await j.page.locator('.rooms:has-text("board")').count()).toBe(0);
    await j.page.click('.room-link:has-text("#crew") button:text-is("Join")');
    await j.page.waitForURL(`${base}${crew}`);

    await i.page.click('button[aria-label="Remove joy"]');
    await expect.poll(() => i.page.locator('.members .member').count()).toBe(1);
    await j.page.waitForSelector('.room-link:has-text("#crew") button:text-is("Join")');
    expect(await j.page.locator('.room-link[href]:has-text("#crew")').count()).toBe(0);
    expectNoProblems(i.problems);
    expectNoProblems(j.problems);
    await i.context.close();
    await j.context.close();
  });

  it('shares a file into a room: an image shows inline for the other member, a document as a card', async () => {
    await createUser(base, 'gil');
    await createUser(base, 'hal');
    const gilToken = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'gil', password: PASSWORD } })).body.accessToken;
    const halToken = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'hal', password: PASSWORD } })).body.accessToken;
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: gilToken, json: { name: 'photos' } })).body.room.id;
    await api(base, 'POST', `/api/chat/rooms/${room}/join`, { token: halToken });
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 20, g: 160, b: 90 } } }).png().toBuffer();
    for (const [name, data] of [['team.png', png], ['agenda.txt', Buffer.from('1. launch')]] as const) {
      const r = await fetch(`${base}/api/files/raw`, { method: 'POST', headers: { authorization: `Bearer ${gilToken}`, 'content-type': 'application/octet-stream', 'file-name': name }, body: data });
      expect(r.status).toBe(201);
    }
    const g = await loggedInContext(browser, base, 'gil');
    const h = await loggedInContext(browser, base, 'hal');
    for (const p of [g.page, h.page]) {
      await p.goto(`${base}/chat/${room}`);
      await p.waitForSelector('.conn:text-is("Connected")');
    }
    for (const name of ['team.png', 'agenda.txt']) {
      await g.page.click('button[aria-label="Share a file"]');
      await g.page.click(`dialog tr:has-text("${name}") button:text-is("Share")`);
      await expect.poll(() => g.page.locator('dialog[open]').count()).toBe(0);
    }
    // A new file from the computer, uploaded and shared in one go.
    await g.page.click('button[aria-label="Share a file"]');
    await g.page.setInputFiles('dialog input[type=file]', [{ name: 'fresh-notes.txt', mimeType: 'text/plain', buffer: Buffer.from('straight from disk') }]);
    await expect.poll(() => g.page.locator('dialog[open]').count()).toBe(0);
    await h.page.waitForSelector('.messages a.file-card:has-text("fresh-notes.txt")');
    const image = h.page.locator('.messages .file-card img');
    await expect.poll(() => image.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(await h.page.textContent('.messages a.file-card:has-text("agenda.txt")')).toContain('text/plain');
    const [download] = await Promise.all([h.page.waitForEvent('download'), h.page.click('.messages a.file-card:has-text("agenda.txt")')]);
    expect(download.suggestedFilename()).toBe('agenda.txt');
    await shot(h.page, 'chat-shared-files');
    expectNoProblems(g.problems);
    expectNoProblems(h.problems);
    await g.context.close();
    await h.context.close();
  });

  it('scrolls back through 2,000 messages and down again: under 1,000 nodes in the list, each message once and in order', async () => {
    const finnId = await createUser(base, 'finn');
    const token = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'finn', password: PASSWORD } })).body.accessToken;
    const room = (await api(base, 'POST', '/api/chat/rooms', { token, json: { name: 'archive' } })).body.room.id;
    const total = 2000;
    // Seeded through the server's own chat service: queued in order (each gets the next seq), committed in batches.
    const finn = await server.core.users.findById(finnId);
    if (!finn) throw new Error('finn was not created');
    const committed: Promise<unknown>[] = [];
    for (let i = 1; i <= total; i++) committed.push((await server.core.chat.messages.enqueue(finn, room, { body: `message ${i}` })).committed);
    await Promise.all(committed);
    expect((await api(base, 'GET', '/api/chat/rooms', { token })).body.rooms.find((r: any) => r.id === room).lastSeq).toBe(total);

    const f = await loggedInContext(browser, base, 'finn');
    await openChat(f.page, `/chat/${room}`);
    await expect.poll(() => f.page.locator('.messages .msg').count()).toBe(50);
    const msgs = f.page.locator('.messages .msg');
    const seqsNow = () => msgs.evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-seq'))));
    const nodesInList = () => f.page.locator('.messages').evaluate((el) => el.querySelectorAll('*').length);
    // The newest message is in view at the start.
    expect(await msgs.last().textContent()).toContain(`message ${total}`);
    const seen = new Set<number>();
    let most = 0;
    // Up to the first message: page by page, never more than the window's 140 messages in the DOM.
    for (let i = 0; i < 60 && (await f.page.locator('.system:has-text("This is the start")').count()) === 0; i++) {
      const before = (await seqsNow())[0] ?? 0;
      await f.page.locator('.messages').evaluate((el) => el.scrollTo(0, 0));
      await expect.poll(async () => (await seqsNow())[0]).toBeLessThan(before);
      const now = await seqsNow();
      expect(now.length).toBeLessThanOrEqual(140);
      expect(now).toEqual(Array.from({ length: now.length }, (_, k) => (now[0] ?? 0) + k));
      most = Math.max(most, await nodesInList());
      for (const q of now) seen.add(q);
    }
    expect(await msgs.first().textContent()).toContain('message 1');
    expect((await seqsNow()).length).toBe(140);
    expect(most).toBeGreaterThan(500);
    expect(most).toBeLessThan(1000);
    await shot(f.page, 'chat-history-top');

    // A message arriving meanwhile is not shown out of place; on the way down everything comes back, once.
    expect((await api(base, 'POST', `/api/chat/rooms/${room}/messages`, { token, json: { body: 'a late one' } })).status).toBe(201);
    for (let i = 0; i < 60 && !(await msgs.last().textContent())?.includes('a late one'); i++) {
      const last = (await seqsNow()).at(-1) ?? 0;
      await f.page.locator('.messages').evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await expect.poll(async () => (await seqsNow()).at(-1) ?? 0).toBeGreaterThan(last);
      const now = await seqsNow();
      expect(now.length).toBeLessThanOrEqual(140);
      expect(now).toEqual(Array.from({ length: now.length }, (_, k) => (now[0] ?? 0) + k));
      expect(await nodesInList()).toBeLessThan(1000);
      for (const q of now) seen.add(q);
    }
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: total + 1 }, (_, k) => k + 1));
    expect(await f.page.locator('.messages .body:text-is("a late one")').count()).toBe(1);
    expectNoProblems(f.problems);
    await f.context.close();
  }, 180_000);
});
