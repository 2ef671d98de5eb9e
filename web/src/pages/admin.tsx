import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatDate } from '../format.js';
import { session } from '../session.js';
import type { Role, User } from '../types.js';
import { AdminNav, NotAllowed } from './admin-nav.js';
import { QuotaDialog, StorageCell, useUsages } from './admin-quota.js';
import { Modal } from './dialog.js';

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [error, setError] = useState('');
  async function submit(e: Event) {
    e.preventDefault();
    try {
      await api('POST', '/api/users', { username, password, role });
      setUsername('');
      setPassword('');
      setError('');
      onCreated();
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <form class="card" onSubmit={(e) => void submit(e)}>
      <h2>Add a user</h2>
      <div class="row">
        <label>Username<input required value={username} onInput={(e) => setUsername(e.currentTarget.value)} /></label>
        <label>Password<input type="password" autoComplete="new-password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
        <label>Role<select value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}><option value="user">Member</option><option value="admin">Administrator</option></select></label>
        <button type="submit" class="primary">Add user</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}

export function AdminPage() {
  const me = session.value;
  const [users, setUsers] = useState<User[]>([]);
  const [query, setQuery] = useState('');
  const [error, setError] = useState('');
  const [deleting, setDeleting] = useState<User | null>(null);
  const [quotaOf, setQuotaOf] = useState<User | null>(null);
  const { usages, refresh: refreshUsage } = useUsages(users);
  const isAdmin = me?.user.role === 'admin';
  const [total, setTotal] = useState(0);
  const refresh = () =>
    api<{ users: User[]; total: number }>('GET', '/api/users?limit=500').then(
      (r) => {
        setUsers(r.users);
        setTotal(r.total);
      },
      (err: unknown) => setError(sentence(err)),
    );
  useEffect(() => {
    if (isAdmin) void refresh();
  }, [isAdmin]);
  if (!isAdmin) return <NotAllowed />;
  async function change(u: User, body: Partial<Pick<User, 'role' | 'disabled'>>) {
    try {
      await api('PATCH', `/api/users/${u.id}`, body);
      await refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }
  async function remove(u: User) {
    try {
      await api('DELETE', `/api/users/${u.id}`);
      setDeleting(null);
      await refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }
  const q = query.trim().toLowerCase();
  const shown = q ? users.filter((u) => u.username.includes(q) || (u.email ?? '').toLowerCase().includes(q)) : users;
  return (
    <section class="page">
      <div class="row"><h1>Users</h1><span class="spacer" /><AdminNav /></div>
      <CreateUser onCreated={() => void refresh()} />
      {error && <p class="error" role="alert">{error}</p>}
      <div class="toolbar"><input type="search" aria-label="Search users" placeholder="Search users" value={query} onInput={(e) => setQuery(e.currentTarget.value)} /></div>
      <div class="card table-wrap">
        <table id="users">
          <thead><tr><th>User</th><th>Role</th><th>Status</th><th>Storage</th><th class="hide-narrow">Joined</th><th /></tr></thead>
          <tbody>
            {shown.map((u) => (
              <tr key={u.id}>
                <td><strong>{u.username}</strong><div class="muted small-text">{u.email ?? ''}</div></td>
                <td>
                  <select aria-label={`Role of ${u.username}`} value={u.role} disabled={u.id === me.user.id} onChange={(e) => void change(u, { role: e.currentTarget.value as Role })}>
                    <option value="user">Member</option>
                    <option value="admin">Administrator</option>
                  </select>
                </td>
                <td>{u.disabled ? 'Disabled' : 'Active'}</td>
                <td><StorageCell usage={usages[u.id]} /></td>
                <td class="hide-narrow">{formatDate(u.createdAt)}</td>
                <td class="actions">
                  <button type="button" class="small" onClick={() => setQuotaOf(u)}>Quota</button>{' '}
                  {u.id !== me.user.id && (
                    <>
                      <button type="button" class="small" onClick={() => void change(u, { disabled: !u.disabled })}>{u.disabled ? 'Enable' : 'Disable'}</button>{' '}
                      <button type="button" class="small" onClick={() => setDeleting(u)}>Delete</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {quotaOf && <QuotaDialog user={quotaOf} usage={usages[quotaOf.id]} onClose={() => setQuotaOf(null)} onSaved={() => void refreshUsage([quotaOf.id])} />}
      {total > users.length && <p class="muted">Showing the first {users.length} of {total} users.</p>}
      {deleting && (
        <Modal title={`Delete ${deleting.username}?`} onClose={() => setDeleting(null)}>
          <p>Their account, sessions and files are removed. This cannot be undone.</p>
          <div class="buttons">
            <button type="button" onClick={() => setDeleting(null)}>Cancel</button>
            <button type="button" class="danger" onClick={() => void remove(deleting)}>Delete user</button>
          </div>
        </Modal>
      )}
    </section>
  );
}
