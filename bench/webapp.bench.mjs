// The web app's numbers (issue 15), measured against the built server (dist/plaza.mjs) in Debian's
// Chromium through playwright-core:
//
//   1. Bytes: the login page's JavaScript + CSS (gzip, as Plaza sends them) and the whole app
//      before its lazy parts (index.html's entry script and styles), beside the lazy chunks.
//   2. Chat latency: a message sent in browser context A (the frame handed to the socket) until it
//      is in context B's DOM, one at a time, MESSAGES times — beside two raw WebSocket clients
//      (ws) on the same server in the same run: the ceiling the browsers add their cost to.
//   3. A room of ROOM_SIZE messages: opening it, then scrolling back SCROLL_BACK messages page by
//      page: the list's DOM node count and each page's render time (the history frame's arrival
//      to the next painted frame), and the whole page turn (scroll to painted, network included).
//
// Run: npm run bench:webapp  (MESSAGES=500 ROOM_SIZE=10000 SCROLL_BACK=2000 OPENS=5 WARMUP=20 by default)
/* global window, document, MutationObserver, requestAnimationFrame -- inside page.evaluate(), in the browser */
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { json, median, startProcess, tempDir } from './lib.mjs';

const env = process.env;
const MESSAGES = Number(env.MESSAGES ?? 500);
const ROOM_SIZE = Number(env.ROOM_SIZE ?? 10_000);
const SCROLL_BACK = Number(env.SCROLL_BACK ?? 2000);
const OPENS = Number(env.OPENS ?? 5);
/** Messages sent first and not counted, on both paths (connections and JITs warm up). */
const WARMUP = Number(env.WARMUP ?? 20);
/** Which parts to run: bytes, chat, room (all by default). */
const ONLY = new Set((env.ONLY ?? 'bytes,chat,room').split(','));
const MAIN = env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
const WEB = new URL('../dist/web/', import.meta.url).pathname;
const CHROMIUM = env.PLAZA_TEST_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'bench-password-1';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x) => `${x.toFixed(1)} ms`;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

/** A GET's body as sent (gzip asked for), and its headers: node:http leaves the encoding alone. */
function getRaw(url, headers = {}) {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'accept-encoding': 'gzip', ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks).length }));
    })
      .on('error', reject)
      .end();
  });
}

async function measureBytes(base) {
  const index = readFileSync(`${WEB}index.html`, 'utf8');
  const entry = [...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]);
  const all = readdirSync(`${WEB}assets`);
  const sizeOf = async (name) => (await getRaw(`${base}/assets/${name}`)).bytes;
  let app = 0;
  for (const name of entry) app += await sizeOf(name);
  const lazy = [];
  for (const name of all.filter((n) => !entry.includes(n))) lazy.push([name, await sizeOf(name)]);
  // The login page is server-rendered: no script file, its CSS inline in the HTML.
  const login = await getRaw(`${base}/login`);
  const html = await (await fetch(`${base}/login`)).text();
  const scripts = [...html.matchAll(/<script[^>]*src=|<link[^>]*stylesheet/g)].length;
  return { entry, app, lazy, loginFiles: scripts, loginSent: login.bytes, loginEncoding: login.headers['content-encoding'] ?? 'none', loginGzip: gzipSync(html, { level: 9 }).length };
}

async function register(base, username) {
  await json(`${base}/api/auth/register`, 'POST', { username, password: PASSWORD });
  const r = await json(`${base}/api/auth/login`, 'POST', { identifier: username, password: PASSWORD });
  return r.accessToken;
}

function rawClient(base, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/chat`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    const waiters = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.type === 'hello') resolve(client);
      for (const w of [...waiters]) {
        if (!w.pred(f)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    });
    ws.on('error', reject);
    const client = {
      ws,
      send: (f) => ws.send(JSON.stringify(f)),
      next: (pred) => new Promise((res) => waiters.push({ pred, resolve: res })),
      close: () => ws.close(1000),
    };
  });
}

/** Two raw clients: A sends, B receives the message frame; one at a time. */
async function rawLatency(base, tokenA, tokenB, room) {
  const a = await rawClient(base, tokenA);
  const b = await rawClient(base, tokenB);
  const out = [];
  for (let i = -WARMUP; i < MESSAGES; i++) {
    const body = `raw ${i}`;
    const got = b.next((f) => f.type === 'message' && f.body === body);
    const t0 = performance.now();
    a.send({ type: 'send', room, body });
    await got;
    if (i >= 0) out.push(performance.now() - t0);
  }
  a.close();
  b.close();
  return out;
}

// In every page: when each `send` frame leaves (by body) and when each `history` reply arrives.
const INIT = `(() => {
  const Orig = window.WebSocket;
  window.__sentAt = {};
  window.__historyAt = 0;
  const send = Orig.prototype.send;
  Orig.prototype.send = function (data) {
    try { const f = JSON.parse(data); if (f.type === 'send') window.__sentAt[f.body] = performance.timeOrigin + performance.now(); } catch {}
    return send.call(this, data);
  };
  function Patched(...args) {
    const s = new Orig(...args);
    s.addEventListener('message', (e) => { if (String(e.data).startsWith('{"type":"history"')) window.__historyAt = performance.now(); });
    return s;
  }
  Patched.prototype = Orig.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Patched[k] = Orig[k];
  window.WebSocket = Patched;
})();`;

async function browserLogin(browser, base, username) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(INIT);
  const page = await context.newPage();
  await page.goto(`${base}/login?next=/files`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/files`);
  return { context, page };
}

/** Sent in A (the frame handed to the socket) → in B's DOM (a MutationObserver's timestamp). */
async function browserLatency(browser, base, room) {
  const a = await browserLogin(browser, base, 'bench-a');
  const b = await browserLogin(browser, base, 'bench-b');
  for (const x of [a, b]) {
    await x.page.goto(`${base}/chat/${room}`);
    await x.page.waitForSelector('.conn:text-is("Connected")');
  }
  await b.page.evaluate(() => {
    window.__shownAt = {};
    const list = document.querySelector('.messages');
    new MutationObserver(() => {
      const now = performance.timeOrigin + performance.now();
      for (const el of list.querySelectorAll('.msg:not(.pending) .body')) if (!(el.textContent in window.__shownAt)) window.__shownAt[el.textContent] = now;
    }).observe(list, { childList: true, subtree: true });
  });
  const out = [];
  for (let i = -WARMUP; i < MESSAGES; i++) {
    const body = `browser ${i}`;
    await a.page.fill('textarea', body);
    await a.page.keyboard.press('Enter');
    await b.page.waitForFunction((t) => t in window.__shownAt, body, { polling: 'raf' });
    const sent = await a.page.evaluate((t) => window.__sentAt[t], body);
    const shown = await b.page.evaluate((t) => window.__shownAt[t], body);
    if (i >= 0) out.push(shown - sent);
  }
  await a.context.close();
  await b.context.close();
  return out;
}

/** ROOM_SIZE sends, at most 100 unacknowledged (the server refuses a client more than 256 frames ahead). */
async function seedRoom(base, token, room) {
  const c = await rawClient(base, token);
  let sent = 0;
  let acked = 0;
  await new Promise((resolve, reject) => {
    const more = () => {
      while (sent < ROOM_SIZE && sent - acked < 100) {
        sent += 1;
        c.send({ type: 'send', room, body: `history ${sent}`, ref: `s${sent}` });
      }
    };
    c.ws.on('message', (d) => {
      const text = String(d);
      if (text.startsWith('{"type":"error"')) return reject(new Error(text));
      if (!text.startsWith('{"type":"ack"')) return;
      acked += 1;
      if (acked === ROOM_SIZE) resolve();
      else more();
    });
    more();
  });
  c.close();
}

async function bigRoom(browser, base, room) {
  const x = await browserLogin(browser, base, 'bench-a');
  const opens = [];
  for (let i = 0; i < OPENS; i++) {
    const t0 = performance.now();
    await x.page.goto(`${base}/chat/${room}`);
    await x.page.waitForSelector(`.messages .msg[data-seq="${ROOM_SIZE}"]`);
    opens.push(performance.now() - t0);
  }
  const pages = [];
  const firstSeq = () => x.page.evaluate(() => Number(document.querySelector('.messages .msg')?.getAttribute('data-seq')));
  for (let guard = 0; guard < 500 && ROOM_SIZE - (await firstSeq()) < SCROLL_BACK; guard++) {
    pages.push(
      await x.page.evaluate(async () => {
        const el = document.querySelector('.messages');
        const first = el.querySelector('.msg')?.getAttribute('data-seq');
        window.__historyAt = 0;
        const t0 = performance.now();
        el.scrollTo(0, 0);
        await new Promise((resolve) => {
          const obs = new MutationObserver(() => {
            if (el.querySelector('.msg')?.getAttribute('data-seq') !== first) {
              obs.disconnect();
              resolve();
            }
          });
          obs.observe(el, { childList: true, subtree: true });
        });
        // The next frame painted with the new page in it.
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const t2 = performance.now();
        return { render: t2 - window.__historyAt, turn: t2 - t0, nodes: el.querySelectorAll('*').length };
      }),
    );
  }
  await x.context.close();
  return { opens, pages };
}

const dataDir = tempDir();
const plaza = await startProcess([MAIN, 'serve'], {
  PLAZA_DATA_DIR: dataDir,
  PLAZA_PORT: '0',
  PLAZA_LOG_LEVEL: 'warn',
  PLAZA_RATE_REGISTER_IP: '100000/1m',
  PLAZA_RATE_LOGIN_IP: '100000/1m',
  PLAZA_RATE_LOGIN_ACCOUNT: '100000/1m',
  PLAZA_CHAT_FRAMES_PER_10S: '1000000',
}, /running at (\S+)/);
const base = plaza.match[1].replace(/\/$/, '');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
try {
  const bytes = ONLY.has('bytes') ? await measureBytes(base) : undefined;
  if (bytes) console.log('\n== bytes (gzip, as Plaza sends them) ==');
  if (bytes) console.log(`login page: ${bytes.loginFiles} JavaScript or CSS files (server-rendered, its CSS inline); the whole page ${kb(bytes.loginGzip)} gzip (sent: ${kb(bytes.loginSent)}, encoding ${bytes.loginEncoding})   target JS + CSS ≤ 100 KB`);
  if (bytes) console.log(`app before lazy parts (${bytes.entry.join(', ')}): ${kb(bytes.app)}   target ≤ 300 KB`);
  for (const [name, n] of bytes?.lazy ?? []) console.log(`  lazy: ${name} ${kb(n)}`);

  const tokenA = await register(base, 'bench-a');
  const tokenB = await register(base, 'bench-b');
  const room = (await json(`${base}/api/chat/rooms`, 'POST', { name: 'bench' }, { authorization: `Bearer ${tokenA}` })).room.id;
  await json(`${base}/api/chat/rooms/${room}/join`, 'POST', {}, { authorization: `Bearer ${tokenB}` });

  if (ONLY.has('chat')) {
  const raw = await rawLatency(base, tokenA, tokenB, room);
  const web = await browserLatency(browser, base, room);
  console.log(`\n== chat: sent in A → shown in B, ${MESSAGES} messages one at a time ==`);
  console.log(`raw WebSocket clients: p50 ${ms(pct(raw, 50))}  p99 ${ms(pct(raw, 99))}`);
  console.log(`browser contexts:      p50 ${ms(pct(web, 50))}  p99 ${ms(pct(web, 99))}   target p50 ≤ 30 ms, p99 ≤ 100 ms`);
  console.log(`ratio browser/raw:     p50 ${(pct(web, 50) / pct(raw, 50)).toFixed(1)}×  p99 ${(pct(web, 99) / pct(raw, 99)).toFixed(1)}×`);
  }
  if (!ONLY.has('room')) process.exitCode = 0;
  else {

  const big = (await json(`${base}/api/chat/rooms`, 'POST', { name: 'archive' }, { authorization: `Bearer ${tokenA}` })).room.id;
  const t0 = performance.now();
  await seedRoom(base, tokenA, big);
  console.log(`\n== a room of ${ROOM_SIZE} messages (seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s) ==`);
  const r = await bigRoom(browser, base, big);
  const render = r.pages.map((p) => p.render);
  const turn = r.pages.map((p) => p.turn);
  const nodes = r.pages.map((p) => p.nodes);
  console.log(`open (navigation → newest message shown): median ${ms(median(r.opens))} over ${OPENS}`);
  console.log(`scrolled back ${SCROLL_BACK} messages in ${r.pages.length} pages`);
  console.log(`per page, history frame → painted: median ${ms(median(render))}  max ${ms(Math.max(...render))}   target ≤ 50 ms`);
  console.log(`per page, scroll → painted (network included): median ${ms(median(turn))}  max ${ms(Math.max(...turn))}`);
  console.log(`DOM nodes in the message list: median ${median(nodes)}  max ${Math.max(...nodes)}   target < 1,000`);
  }
} finally {
  await browser.close();
  await plaza.stop();
}
