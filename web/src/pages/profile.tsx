import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatDate, formatRelative } from '../format.js';
import { loadSession, logout, session } from '../session.js';
import type { SessionInfo } from '../types.js';

function device(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : ua.split(/[ /]/)[0] ?? 'Client';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    if (next !== again) return setMsg({ ok: false, text: 'The two new passwords are not the same.' });
    try {
      const r = await api<{ revokedSessions: number }>('PATCH', '/api/users/me', { currentPassword: current, password: next });
      setCurrent('');
      setNext('');
      setAgain('');
      setMsg({ ok: true, text: `Password changed. ${r.revokedSessions} other session(s) were signed out.` });
    } catch (err) {
      setMsg({ ok: false, text: sentence(err) });
    }
  }
  return (
    <form class="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="pw-title">
      <h2 id="pw-title">Change password</h2>
      <label>Current password<input type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} /></label>
      <label>New password<input type="password" autoComplete="new-password" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} /></label>
      <label>New password again<input type="password" autoComplete="new-password" required minLength={8} value={again} onInput={(e) => setAgain(e.currentTarget.value)} /></label>
      {msg && <p class={msg.ok ? 'success' : 'error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
      <div><button type="submit" class="primary">Change password</button></div>
    </form>
  );
}

function Sessions() {
  const [list, setList] = useState<SessionInfo[]>([]);
  const [error, setError] = useState('');
  const refresh = () => api<{ sessions: SessionInfo[] }>('GET', '/api/auth/sessions').then((r) => setList(r.sessions), (err: unknown) => setError(sentence(err)));
  useEffect(() => void refresh(), []);
  async function revoke(id: string) {
    try {
      await api('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`);
      await refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <div class="card">
      <h2>Where you are signed in</h2>
      {error && <p class="error" role="alert">{error}</p>}
      <table id="sessions">
        <thead><tr><th>Device</th><th class="hide-narrow">Address</th><th>Last active</th><th /></tr></thead>
        <tbody>
          {list.map((s) => (
            <tr key={s.id}>
              <td>{device(s.userAgent)} {s.kind === 'api' && <span class="muted">(API)</span>} {s.current && <strong>· this browser</strong>}</td>
              <td class="hide-narrow">{s.ip ?? '—'}</td>
              <td title={formatDate(s.lastSeenAt)}>{formatRelative(s.lastSeenAt)}</td>
              <td class="actions">{s.current ? <button type="button" class="small" onClick={() => void logout()}>Log out</button> : <button type="button" class="small" onClick={() => void revoke(s.id)}>Sign out</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AccessKey() {
  const me = session.value;
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  async function request() {
    try {
      const r = await api<{ key: string }>('POST', '/api/auth/elevate');
      setKey(r.key);
      await loadSession();
    } catch (err) {
      setError(sentence(err));
    }
  }
  const active = me?.accessKey.active && me.accessKey.expiresAt;
  return (
    <div class="card stack">
      <h2>Access key</h2>
      <p class="muted">An access key unlocks protected resources for one hour.</p>
      <p id="key-status">{active ? `Active, expires ${formatRelative(me.accessKey.expiresAt ?? 0)}.` : 'No active key.'}</p>
      {key && <p>Your key (shown once): <code class="break">{key}</code></p>}
      {error && <p class="error" role="alert">{error}</p>}
      {!active && <div><button type="button" onClick={() => void request()}>Request a key</button></div>}
    </div>
  );
}

export function ProfilePage() {
  const me = session.value;
  if (!me) return null;
  return (
    <section class="page narrow">
      <h1>Profile</h1>
      <div class="card">
        <dl class="facts">
          <dt>Username</dt><dd>{me.user.username}</dd>
          <dt>Email</dt><dd>{me.user.email ?? '—'}</dd>
          <dt>Role</dt><dd>{me.user.role === 'admin' ? 'Administrator' : 'Member'}</dd>
          <dt>Member since</dt><dd>{formatDate(me.user.createdAt)}</dd>
        </dl>
      </div>
      <PasswordForm />
      <Sessions />
      <AccessKey />
      <p><button type="button" onClick={() => void logout()}>Log out</button></p>
    </section>
  );
}
