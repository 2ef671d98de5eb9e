import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatBytes } from '../format.js';
import type { Usage, User } from '../types.js';
import { Modal } from './dialog.js';

const MB = 1024 * 1024;

/** A user's storage in the users table: "12 MB of 10 GB", with a bar. */
export function StorageCell({ usage }: { usage: Usage | undefined }) {
  if (!usage) return <span class="muted">…</span>;
  const pct = usage.quotaBytes > 0 ? Math.min(100, (usage.usedBytes / usage.quotaBytes) * 100) : 0;
  return (
    <div class="quota compact">
      <span class="small-text">{formatBytes(usage.usedBytes)} of {formatBytes(usage.quotaBytes)}</span>
      <div class={`bar${pct >= 90 ? ' full' : ''}`}><span style={{ width: `${pct}%` }} /></div>
    </div>
  );
}

export function useUsages(users: User[]) {
  const [usages, setUsages] = useState<Record<number, Usage>>({});
  const refresh = async (ids = users.map((u) => u.id)) => {
    const got = await Promise.all(ids.map((id) => api<Usage>('GET', `/api/users/${id}/usage`).then((u) => [id, u] as const, () => null)));
    setUsages((old) => ({ ...old, ...Object.fromEntries(got.filter((x) => x !== null)) }));
  };
  useEffect(() => void refresh(), [users.map((u) => u.id).join(',')]);
  return { usages, refresh };
}

/** Sets a user's quota in MB; empty goes back to the server's default. */
export function QuotaDialog({ user, usage, onClose, onSaved }: { user: User; usage: Usage | undefined; onClose: () => void; onSaved: () => void }) {
  const [value, setValue] = useState(usage ? String(Math.round(usage.quotaBytes / MB)) : '');
  const [error, setError] = useState('');
  async function save(e: Event) {
    e.preventDefault();
    try {
      const quotaBytes = value.trim() === '' ? null : Math.round(Number(value) * MB);
      await api('PUT', `/api/users/${user.id}/quota`, { quotaBytes });
      onSaved();
      onClose();
    } catch (err) {
      setError(sentence(err));
    }
  }
  return (
    <Modal title={`Storage quota for ${user.username}`} onClose={onClose}>
      <form class="stack" onSubmit={(e) => void save(e)}>
        {usage && <p class="muted">Using {formatBytes(usage.usedBytes)} now.</p>}
        <label>
          Quota in MB (empty: the server's default)
          <input type="number" min={0} step="any" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary">Save quota</button>
        </div>
      </form>
    </Modal>
  );
}
