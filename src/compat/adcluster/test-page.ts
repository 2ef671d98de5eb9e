import { createHash } from 'node:crypto';

/**
 * Seed 004's two test pages (`/socket_test.html`, `/group_messaging_test.html`): small pages to
 * try the WebSocket endpoints by hand. They take the host from the page address.
 */

// The test pages: one small script (allowed by its hash), no other resources.
const PAGE_SCRIPT = `(() => {
  const $ = (id) => document.getElementById(id);
  const log = (line) => { const el = $('log'); el.textContent += line + '\\n'; el.scrollTop = el.scrollHeight; };
  let ws;
  $('connect').addEventListener('submit', (e) => {
    e.preventDefault();
    if (ws) ws.close(1000);
    const id = $('client').value.trim();
    const group = $('group') ? $('group').value.trim() : '';
    let path = '/ws';
    if (id) path += '/' + encodeURIComponent(id) + (group ? '/' + encodeURIComponent(group) : '');
    const token = $('token').value.trim();
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path +
      (token ? '?token=' + encodeURIComponent(token) : '');
    log('... connecting to ' + path);
    ws = new WebSocket(url);
    ws.onopen = () => log('connected');
    ws.onmessage = (m) => log('<- ' + m.data);
    ws.onclose = (c) => log('closed (' + c.code + (c.reason ? ': ' + c.reason : '') + ')');
    ws.onerror = () => log('connection error (refused, or not allowed without a login)');
  });
  $('disconnect').addEventListener('click', () => { if (ws) ws.close(1000); });
  $('send').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('text');
    if (!ws || ws.readyState !== 1) { log('not connected'); return; }
    ws.send(t.value);
    log('-> ' + t.value);
    t.value = '';
  });
  for (const b of document.querySelectorAll('[data-cmd]')) {
    b.addEventListener('click', () => { const t = $('text'); t.value = b.dataset.cmd; t.focus(); });
  }
})();`;
const SCRIPT_HASH = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
const PAGE_STYLE = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.6rem 0}label{display:grid;font-size:.9rem}
input{padding:.4rem;font-size:1rem}#text{flex:1}button{padding:.45rem .8rem;cursor:pointer}
pre{background:#f5f5f5;padding:.8rem;height:22rem;overflow:auto;white-space:pre-wrap}code{background:#f3f3f3;padding:.1rem .3rem}`;

function testPage(title: string, intro: string, groupField: boolean, buttons: string[]): string {
  const group = groupField ? '<label>Group <input id="group" placeholder="lobby"></label>' : '';
  const cmds = buttons.map((c) => `<button type="button" data-cmd="${c}">${c.trim()}</button>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title} · Plaza</title><style>${PAGE_STYLE}</style></head><body>
<h1>${title}</h1><p>${intro}</p>
<form id="connect"><label>Client id <input id="client" placeholder="empty = echo /ws"></label>${group}<label>Access token (optional) <input id="token" type="password" autocomplete="off"></label><button>Connect</button><button type="button" id="disconnect">Disconnect</button></form>
<form id="send"><input id="text" placeholder="message or /command" autocomplete="off"><button>Send</button></form>
<div>${cmds}</div>
<pre id="log" aria-live="polite"></pre>
<script>${PAGE_SCRIPT}</script></body></html>`;
}

export const SOCKET_TEST = testPage(
  'WebSocket test',
  'Leave the client id empty for the echo endpoint <code>/ws</code>, or give one for <code>/ws/&lt;client id&gt;</code>. ' +
    'Signed in here, your client id is your username; otherwise paste a bearer access token, or connect as a guest if this server allows guests.',
  false,
  ['/send_to ', '/join ', '/groups', '/my_groups'],
);
export const GROUP_TEST = testPage(
  'Group messaging test',
  'Connects to <code>/ws/&lt;client id&gt;/&lt;group&gt;</code>. Plain text goes to your groups; <code>/group &lt;msg&gt;</code> sends a group message.',
  true,
  ['/group ', '/join ', '/leave ', '/groups', '/group_members ', '/my_groups', '/send_to '],
);
