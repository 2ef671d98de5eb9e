import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cookieFrom, PASSWORD } from '../../test/helpers/api.js';
import { testDatabases } from '../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const BROWSER = { ...FORM, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

/** A GET over node:http: fetch replaces `Sec-Fetch-Mode` with its own `cors`. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

describe.each(await testDatabases())('seed 002 (file manager) forms on %s', (db) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startTestServer(db);
    base = server.url;
  });
  afterAll(() => server.close());

  it('a browser registers, logs in, lands on /index, and logs out (GET)', async () => {
    const reg = await api(base, 'POST', '/register', {
      headers: BROWSER,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(reg.status).toBe(303);
    expect(reg.headers.get('location')).toBe('/login?registered=1');
    const login = await api(base, 'POST', '/login', {
      headers: BROWSER,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/index');
    const cookie = cookieFrom(login.headers, 'plaza_session');
    const index = await api(base, 'GET', '/index', { cookie });
    expect(index.text).toContain('Signed in as <strong>new_user</strong>');
    const out = await api(base, 'GET', '/logout', { cookie, headers: { accept: 'text/html', 'sec-fetch-site': 'same-origin' } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    const after = await api(base, 'GET', '/index', { cookie });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe('/login');
  });

  it('/index is the file manager: upload form, the user\'s files with working download links, logout', async () => {
    await api(base, 'POST', '/register', { headers: FORM, body: `username=filer&password=${PASSWORD}` });
    const login = await api(base, 'POST', '/login', { headers: BROWSER, body: `username=filer&password=${PASSWORD}` });
    const cookie = cookieFrom(login.headers, 'plaza_session') ?? '';
    const empty = await api(base, 'GET', '/index', { cookie });
    expect(empty.text).toMatch(/<form method="post" action="\/upload" enctype="multipart\/form-data">/);
    expect(empty.text).toContain('<input type="file" name="file" multiple required>');
    expect(empty.text).toContain('<form method="post" action="/logout"');
    expect(empty.text).toContain('No files yet');

    // Seed 002's client uploads a raw body with File-Name; a browser posts the form.
    const raw = await api(base, 'POST', '/upload', { cookie, headers: { 'file-name': 'report%20%231.txt' }, body: 'quarterly numbers' });
    expect(raw.status).toBe(200);
    const form = new FormData();
    form.append('file', new Blob(['<b>x</b>']), '<img src=x onerror=alert(1)>.txt');
    const res = await fetch(`${base}/upload`, { method: 'POST', headers: { cookie, accept: 'text/html' }, body: form, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/index\?uploaded=/);

    const listed = await api(base, 'GET', '/index', { cookie });
    expect(listed.text).toContain('>report #1.txt</a>');
    expect(listed.text).not.toContain('<img src=x');
    expect(listed.text).toContain('>&#60;img src=x onerror=alert(1)&#62;.txt</a>');
    const link = /href="(\/download\/[^"]+)" download="report #1.txt"/.exec(listed.text)?.[1];
    expect(link).toBeDefined();
    const dl = await api(base, 'GET', link ?? '', { cookie });
    expect(dl.status).toBe(200);
    expect(dl.text).toBe('quarterly numbers');

    // Someone else's page never shows these files.
    await api(base, 'POST', '/register', { headers: FORM, body: `username=other&password=${PASSWORD}` });
    const otherLogin = await api(base, 'POST', '/login', { headers: BROWSER, body: `username=other&password=${PASSWORD}` });
    const other = await api(base, 'GET', '/index', { cookie: cookieFrom(otherLogin.headers, 'plaza_session') ?? '' });
    expect(other.text).not.toContain('report #1.txt');
    expect((await api(base, 'GET', link ?? '', { cookie: cookieFrom(otherLogin.headers, 'plaza_session') ?? '' })).status).toBe(404);
  });

  it('a browser navigating to /index gets the web app, with the same page for no JavaScript; other clients get the page as before', async () => {
    const login = await api(base, 'POST', '/login', { headers: BROWSER, body: `username=filer&password=${PASSWORD}` });
    const cookie = cookieFrom(login.headers, 'plaza_session') ?? '';
    const navigate = { accept: BROWSER.accept, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none' };
    // Plain HTTP on a LAN address: no Fetch Metadata, but the navigation's Upgrade-Insecure-Requests.
    const lan = await get(`${base}/index`, { cookie, accept: BROWSER.accept, 'upgrade-insecure-requests': '1' });
    expect(lan.text).toContain('<div id="app"></div>');
    const app = await get(`${base}/index?uploaded=%3Cb%3Ex`, { cookie, ...navigate });
    expect(app.status).toBe(200);
    expect(app.headers['content-security-policy']).toContain("script-src 'self'");
    expect(app.headers['cache-control']).toBe('no-store');
    expect(app.text).toContain('<div id="app"></div>');
    expect(app.text).toMatch(/<script type="module" crossorigin src="\/assets\/[^"]+\.js"><\/script>/);
    // Without JavaScript the browser shows seed 002's page: its forms and the user's files, escaped.
    const noscript = /<noscript>([\s\S]*)<\/noscript>/.exec(app.text)?.[1] ?? '';
    expect(noscript).toContain('<form method="post" action="/upload" enctype="multipart/form-data">');
    expect(noscript).toContain('>report #1.txt</a>');
    expect(noscript).toContain('Uploaded &#60;b&#62;x.');
    expect(noscript).not.toContain('<img src=x');
    expect(noscript).not.toContain('<b>');
    // Seed 002's client, curl and a frame get the server-rendered page, unchanged.
    const frame = { ...navigate, 'sec-fetch-dest': 'iframe', 'upgrade-insecure-requests': '1' };
    const fetched = { ...navigate, 'sec-fetch-mode': 'cors', 'upgrade-insecure-requests': '1' };
    for (const headers of [{}, { accept: BROWSER.accept }, frame, fetched] as Array<Record<string, string>>) {
      const plain = await get(`${base}/index`, { cookie, ...headers });
      expect(plain.text).toMatch(/^<!doctype html><html lang="en"><head>.*<title>Files · Plaza<\/title>/);
      expect(plain.text).not.toContain('id="app"');
      expect(plain.headers['content-security-policy']).toMatch(/default-src 'none'/);
    }
    // Logged out, a browser still goes to the login page.
    const out = await get(`${base}/index`, navigate);
    expect([out.status, out.headers.location]).toEqual([303, '/login']);
  });

  it('a failed upload from the page goes back to it with the reason', async () => {
    const login = await api(base, 'POST', '/login', { headers: BROWSER, body: `username=filer&password=${PASSWORD}` });
    const cookie = cookieFrom(login.headers, 'plaza_session') ?? '';
    const form = new FormData();
    form.append('other', 'no file here');
    const res = await fetch(`${base}/upload`, { method: 'POST', headers: { cookie, accept: 'text/html' }, body: form, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(decodeURIComponent(res.headers.get('location') ?? '')).toBe('/index?error=No file in the request');
  });

  it('failures go back to the form with a message; curl gets a status and text', async () => {
    const bad = await api(base, 'POST', '/login', { headers: BROWSER, body: 'username=new_user&password=wrong-one' });
    expect(bad.status).toBe(303);
    expect(bad.headers.get('location')).toMatch(/^\/login\?error=/);
    const page = await api(base, 'GET', bad.headers.get('location') ?? '/login');
    expect(page.text).toContain('Incorrect username, email or password');
    const curl = await api(base, 'POST', '/login', { headers: FORM, body: 'username=new_user&password=wrong-one' });
    expect(curl.status).toBe(401);
    const taken = await api(base, 'POST', '/register', {
      headers: FORM,
      body: `username=new_user&password=${PASSWORD}`,
    });
    expect(taken.status).toBe(409);
    const empty = await api(base, 'POST', '/register', { headers: FORM, body: 'username=&password=' });
    expect(empty.status).toBe(400);
    const ok = await api(base, 'POST', '/login', { headers: FORM, body: `username=new_user&password=${PASSWORD}` });
    expect(ok.status).toBe(200);
    const out = await api(base, 'POST', '/logout', { cookie: cookieFrom(ok.headers, 'plaza_session') });
    expect(out.text).toBe('Logged out');
  });

  it('error messages are escaped in the page (no reflected HTML)', async () => {
    const page = await api(base, 'GET', '/login?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('&#60;script&#62;');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
