import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import { mapError } from './errors.js';

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
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}form{display:grid;gap:.6rem}input{padding:.5rem;font-size:1rem}
button{padding:.55rem;font-size:1rem;cursor:pointer}.err{color:#b00020}.ok{color:#0a7a2f}nav a{margin-right:1rem}
code{background:#f3f3f3;padding:.1rem .3rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Plaza</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function send(reply: FastifyReply, html: string, status = 200) {
  return reply.code(status).headers(HTML_HEADERS).send(html);
}

function notice(request: FastifyRequest): string {
  const q = request.query as Record<string, string | undefined>;
  if (q.error) return `<p class="err" role="alert">${escapeHtml(String(q.error).slice(0, 300))}</p>`;
  if (q.registered) return '<p class="ok">Account created. You can log in now.</p>';
  return '';
}

export function homePage(core: Core, request: FastifyRequest, reply: FastifyReply) {
  const p = request.principal;
  const who = p
    ? `<p>Signed in as <strong>${escapeHtml(p.user.username)}</strong> (${p.user.role}).</p><nav><a href="/index">Continue</a><a href="/logout">Log out</a></nav>`
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

function credentialsForm(action: '/login' | '/register', title: string, extra = '') {
  return `<form method="post" action="${action}">
<label>Username <input name="username" autocomplete="username" required maxlength="320"></label>${extra}
<label>Password <input name="password" type="password" autocomplete="${action === '/login' ? 'current-password' : 'new-password'}" required maxlength="1024"></label>
<button type="submit">${title}</button></form>`;
}

export async function webRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const hide = { schema: { hide: true } };

  app.get('/login', hide, async (request, reply) =>
    send(
      reply,
      page(
        'Log in',
        `<h1>Log in</h1>${notice(request)}${credentialsForm('/login', 'Log in')}<p><a href="/register">Create an account</a></p>`,
      ),
    ),
  );

  app.get('/register', hide, async (request, reply) => {
    if (core.config.registration === 'closed') {
      return send(
        reply,
        page('Register', '<h1>Register</h1><p>Registration is closed; ask an admin for an account.</p>'),
      );
    }
    const email =
      '<label>Email (optional) <input name="email" type="email" autocomplete="email" maxlength="320"></label>';
    return send(
      reply,
      page(
        'Register',
        `<h1>Create an account</h1>${notice(request)}${credentialsForm('/register', 'Register', email)}<p><a href="/login">Log in instead</a></p>`,
      ),
    );
  });

  app.get('/index', hide, async (request, reply) => {
    const p = request.principal;
    if (!p) return reply.redirect('/login', 303);
    return send(
      reply,
      page(
        'Home',
        `<h1>Welcome, ${escapeHtml(p.user.username)}</h1><p>Role: ${p.user.role}</p><nav><a href="/docs">API</a><a href="/logout">Log out</a></nav>`,
      ),
    );
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
    if (m.status >= 500) request.log.error({ err }, 'setup failed');
    const body = `<h1>Setup failed</h1><p class="err" role="alert">${escapeHtml(m.message)}</p><p>Go back, correct the form and submit again.</p>`;
    return send(reply, page('Setup', body), m.status);
  }
}
