import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { logFailure } from '../shared/error-map.js';
import { mapError } from './errors.js';
import type { WebApp } from './webapp.js';

/**
 * Server-rendered pages for browsers: home, login, register (seed 002's forms post to the same
 * paths), the signed-in landing page and the one-time admin setup page. No script is needed.
 */

const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `:root{color-scheme:light dark;--bg:#f6f7f9;--panel:#fff;--text:#1d2433;--muted:#5d6779;--line:#e2e5eb;--accent:#3558d6;--on-accent:#fff;--danger:#c0272d;--ok:#1d7a46}
@media (prefers-color-scheme:dark){:root{--bg:#11141a;--panel:#191d25;--text:#e6e9ef;--muted:#9aa3b2;--line:#2b313c;--accent:#7c98ff;--on-accent:#0b1020;--danger:#ff6b6b;--ok:#5fd08f}}
*{box-sizing:border-box}html{background:var(--bg)}
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:1.45;max-width:30rem;margin:3rem auto;padding:1.5rem;color:var(--text);background:var(--panel);border:1px solid var(--line);border-radius:12px;box-shadow:0 1px 3px rgb(16 24 40/10%)}
body.wide{max-width:60rem}h1{font-size:1.5rem;margin:0 0 1rem}a{color:var(--accent)}
form{display:grid;gap:.8rem}label{display:grid;gap:.3rem;font-weight:500}
input{padding:.55rem .65rem;font-size:1rem;border:1px solid var(--line);border-radius:8px;background:var(--panel);color:inherit}
button{padding:.55rem .9rem;font-size:1rem;cursor:pointer;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--on-accent);font-weight:600}
:focus-visible{outline:3px solid #ffb020;outline-offset:2px}
.err{color:var(--danger)}.field-error{font-weight:400;font-size:.9rem}.ok{color:var(--ok)}nav a{margin-right:1rem}
code{background:var(--bg);padding:.1rem .3rem;border-radius:4px}form.inline{display:inline}form.inline button{background:transparent;color:var(--accent)}
table{border-collapse:collapse;width:100%;margin-top:1rem}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
td.num{text-align:right;white-space:nowrap}header{display:flex;justify-content:space-between;align-items:center;gap:1rem;flex-wrap:wrap}
@media (max-width:520px){body{margin:0;border:0;border-radius:0;min-height:100vh}}`;

function page(title: string, body: string, wide = false): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="color-scheme" content="light dark"><title>${escapeHtml(title)} · Plaza</title><style>${STYLE}</style></head><body${wide ? ' class="wide"' : ''}>${body}</body></html>`;
}

function send(reply: FastifyReply, html: string, status = 200) {
  return reply.code(status).headers(HTML_HEADERS).send(html);
}

/** Logout is a POST (a cross-site GET must not end a session); the form is same-origin. */
const LOGOUT_FORM = '<form method="post" action="/logout" class="inline"><button type="submit">Log out</button></form>';

type Field = 'username' | 'email' | 'password';

/** The field a failed form post was about (`?field=`), when its error is shown beside it. */
function errorField(request: FastifyRequest): Field | undefined {
  const q = request.query as Record<string, unknown>;
  const f = q.field;
  return q.error && (f === 'username' || f === 'email' || f === 'password') ? f : undefined;
}

/** A field's input attributes and the message under it, when the last post failed on it. */
function fieldError(request: FastifyRequest, field: Field): { attrs: string; message: string } {
  if (errorField(request) !== field) return { attrs: '', message: '' };
  const text = escapeHtml(String((request.query as Record<string, unknown>).error).slice(0, 300));
  return {
    attrs: ` aria-invalid="true" aria-describedby="${field}-error" autofocus`,
    message: `<span class="err field-error" id="${field}-error" role="alert">${text}</span>`,
  };
}

function notice(request: FastifyRequest): string {
  const q = request.query as Record<string, string | undefined>;
  // An error about one field is shown beside it (credentialsForm), not above the form.
  if (q.error && errorField(request)) return '';
  if (q.error) return `<p class="err" role="alert">${escapeHtml(String(q.error).slice(0, 300))}</p>`;
  if (q.registered) return '<p class="ok">Account created. You can log in now.</p>';
  if (q.uploaded) return `<p class="ok" role="status">Uploaded ${escapeHtml(String(q.uploaded).slice(0, 300))}.</p>`;
  return '';
}

export function homePage(core: Core, request: FastifyRequest, reply: FastifyReply) {
  const p = request.principal;
  const who = p
    ? `<p>Signed in as <strong>${escapeHtml(p.user.username)}</strong> (${p.user.role}).</p><nav><a href="/files">Open Plaza</a><a href="/chat">Chat</a><a href="/index">Simple file list</a></nav>${LOGOUT_FORM}`
    : `<nav><a href="/login">Log in</a><a href="/register">Register</a></nav>`;
  const reg = core.config.registration === 'closed' ? '<p>Registration is closed on this server.</p>' : '';
  return send(
    reply,
    page(
      'Plaza',
      `<h1>Plaza</h1><p>Accounts, files and chat for your team.</p>${who}${reg}<p><a href="/docs">API documentation</a></p>`,
    ),
  );
}

/**
 * A `?next=` worth redirecting to: a path on this server only. `//evil`, `/\\evil` (which browsers
 * read as `//evil`), schemes, control characters and anything that resolves to another origin are
 * refused, so the login page cannot be used as an open redirect.
 */
export function safeNext(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2000) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return undefined;
  if (/[\u0000-\u001f\u007f]/.test(value)) return undefined;
  try {
    const base = 'http://plaza.invalid';
    const url = new URL(value, base);
    if (url.origin !== base) return undefined;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return undefined;
  }
}

function nextOf(request: FastifyRequest): string | undefined {
  return safeNext((request.query as Record<string, unknown>).next);
}

function loginLink(request: FastifyRequest): string {
  const next = nextOf(request);
  return next ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

function credentialsForm(request: FastifyRequest, action: '/login' | '/register', title: string, extra = '') {
  const next = nextOf(request);
  const hidden = next ? `<input type="hidden" name="next" value="${escapeHtml(next)}">` : '';
  // After a failed attempt the name typed is kept (the password never is).
  const typed = (request.query as Record<string, unknown>).username;
  const value = typeof typed === 'string' ? ` value="${escapeHtml(typed.slice(0, 320))}"` : '';
  const user = fieldError(request, 'username');
  const pass = fieldError(request, 'password');
  return `<form method="post" action="${action}">${hidden}
<label>Username <input name="username" autocomplete="username" required maxlength="320"${value}${user.attrs}>${user.message}</label>${extra}
<label>Password <input name="password" type="password" autocomplete="${action === '/login' ? 'current-password' : 'new-password'}" required maxlength="1024"${pass.attrs}>${pass.message}</label>
<button type="submit">${title}</button></form>`;
}

/**
 * A browser navigating: `Sec-Fetch-Mode: navigate` (current Chromium and Firefox), or, where they
 * send no Fetch Metadata (plain HTTP on a LAN address is not a secure context), the
 * `Upgrade-Insecure-Requests: 1` they send on every navigation. It gets the web app, with seed
 * 002's page inside `<noscript>` for when JavaScript is off. Seed 002's own clients and curl send
 * neither and get the page as it was.
 */
function isBrowserNavigation(request: FastifyRequest): boolean {
  const mode = request.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate' && request.headers['sec-fetch-dest'] !== 'iframe';
  return request.headers['upgrade-insecure-requests'] === '1';
}

export async function webRoutes(app: FastifyInstance, { core, webapp }: { core: Core; webapp?: WebApp }) {
  const hide = { schema: { hide: true } };

  app.get('/login', hide, async (request, reply) => {
    const next = nextOf(request);
    // Someone already signed in has nothing to do here: on to where they were going.
    if (request.principal) return reply.redirect(next ?? '/files', 303);
    const register = next ? `/register?next=${encodeURIComponent(next)}` : '/register';
    return send(
      reply,
      page(
        'Log in',
        `<h1>Log in</h1>${notice(request)}${credentialsForm(request, '/login', 'Log in')}<p><a href="${escapeHtml(register)}">Create an account</a></p>`,
      ),
    );
  });

  app.get('/register', hide, async (request, reply) => {
    if (core.config.registration === 'closed') {
      return send(
        reply,
        page('Register', '<h1>Register</h1><p>Registration is closed; ask an admin for an account.</p>'),
      );
    }
    const mail = fieldError(request, 'email');
    const email = `<label>Email (optional) <input name="email" type="email" autocomplete="email" maxlength="320"${mail.attrs}>${mail.message}</label>`;
    return send(
      reply,
      page(
        'Register',
        `<h1>Create an account</h1>${notice(request)}${credentialsForm(request, '/register', 'Register', email)}<p><a href="${escapeHtml(loginLink(request))}">Log in instead</a></p>`,
      ),
    );
  });

  app.get('/index', hide, async (request, reply) => {
    const p = request.principal;
    if (!p) return reply.redirect('/login', 303);
    if (webapp?.built && isBrowserNavigation(request)) return webapp.sendIndex(request, reply, await filesBody(core, request, p.user));
    return send(reply, page('Files', await filesBody(core, request, p.user), true));
  });

  app.get('/setup', hide, async (request, reply) => {
    const token = String((request.query as Record<string, unknown>).token ?? '').slice(0, 200);
    if ((await core.users.countAdmins()) > 0) {
      return send(reply, page('Setup', '<h1>Setup is complete</h1><p><a href="/login">Log in</a></p>'));
    }
    return send(
      reply,
      page(
        'Setup',
        `<h1>Create the first admin</h1><p>This link works once. Choose the admin's name and password.</p>
<form id="setup" method="post" action="/setup"><input type="hidden" name="token" value="${escapeHtml(token)}">
<label>Username <input name="username" required maxlength="32"></label>
<label>Email (optional) <input name="email" type="email" maxlength="320"></label>
<label>Password <input name="password" type="password" autocomplete="new-password" required minlength="${core.config.password.minLength}" maxlength="${core.config.password.maxLength}"></label>
<button type="submit">Create admin</button></form>`,
      ),
    );
  });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * Seed 002's file manager at /index: upload (multipart field `file`, as its form posted), the
 * signed-in user's files with download links, and logout. Links use the stored name, which is
 * unique; the original name is what the user sees and what the download is saved as.
 */
async function filesBody(core: Core, request: FastifyRequest, user: User): Promise<string> {
  const { files, total } = await core.files.list(user, { limit: 500 });
  const rows = files
    .map(
      (f) =>
        `<tr><td><a href="/download/${encodeURIComponent(f.storedName)}" download="${escapeHtml(f.name)}">${escapeHtml(f.name)}</a></td>` +
        `<td>${escapeHtml(f.mime)}</td><td class="num">${formatBytes(f.size)}</td>` +
        `<td><time datetime="${new Date(f.createdAt).toISOString()}">${new Date(f.createdAt).toISOString().slice(0, 16).replace('T', ' ')} UTC</time></td></tr>`,
    )
    .join('');
  const list =
    files.length === 0
      ? '<p id="empty">No files yet. Upload one above.</p>'
      : `<table id="files"><thead><tr><th>Name</th><th>Type</th><th class="num">Size</th><th>Uploaded</th></tr></thead><tbody>${rows}</tbody></table>` +
        (total > files.length ? `<p>Showing the newest ${files.length} of ${total} files.</p>` : '');
  return `<header><h1>Files</h1><span><a href="/files">Open the full app</a> · Signed in as <strong>${escapeHtml(user.username)}</strong> ${LOGOUT_FORM}</span></header>
${notice(request)}
<form method="post" action="/upload" enctype="multipart/form-data">
<label>Choose files <input type="file" name="file" multiple required></label>
<button type="submit">Upload</button></form>
${list}`;
}

/** GET /logout started by another site: the user confirms with a same-origin POST. */
export function logoutConfirmPage(reply: FastifyReply) {
  return send(
    reply,
    page('Log out', `<h1>Log out of Plaza?</h1><p>Another page sent you here. Log out only if you meant to.</p>${LOGOUT_FORM}<p><a href="/">Stay signed in</a></p>`),
  );
}

/** POST /setup from the page's form (the JSON API is POST /api/setup). */
export async function setupFormHandler(
  core: Core,
  request: FastifyRequest,
  reply: FastifyReply,
  form: URLSearchParams,
) {
  try {
    const email = form.get('email');
    await core.setup.completeSetup(form.get('token') ?? '', {
      username: form.get('username') ?? '',
      password: form.get('password') ?? '',
      ...(email ? { email } : {}),
    });
    return reply.redirect('/login?registered=1', 303);
  } catch (err) {
    const m = mapError(err);
    logFailure(request.log, err, m, 'setup failed');
    if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
    const body = `<h1>Setup failed</h1><p class="err" role="alert">${escapeHtml(m.message)}</p><p>Go back, correct the form and submit again.</p>`;
    return send(reply, page('Setup', body), m.status);
  }
}
