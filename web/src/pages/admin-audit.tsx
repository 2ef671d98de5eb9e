import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatDate, revealControls } from '../format.js';
import { session } from '../session.js';
import type { AuditEntry } from '../../../src/ops/audit/audit.service.js';
import { AdminNav, NotAllowed } from './admin-nav.js';

const ACTIONS: [string, string][] = [
  ['login', 'Log in'],
  ['logout', 'Log out'],
  ['elevate', 'Access key'],
  ['user.role', 'Role change'],
  ['user.disable', 'Disable'],
  ['user.enable', 'Enable'],
  ['user.delete', 'Delete user'],
  ['password.change', 'Password change'],
  ['password.reset', 'Password reset'],
  ['share.create', 'Share link'],
  ['console.query', 'Console query'],
  ['backup', 'Backup'],
  ['restore', 'Restore'],
];
const LABEL = new Map(ACTIONS);

interface Filters {
  action: string;
  outcome: string;
  q: string;
  since: string;
}

function queryOf(f: Filters, before?: number): string {
  const p = new URLSearchParams({ limit: '100' });
  if (f.action) p.set('action', f.action);
  if (f.outcome) p.set('outcome', f.outcome);
  if (f.q.trim()) p.set('q', f.q.trim());
  if (f.since) p.set('since', String(new Date(`${f.since}T00:00:00`).getTime()));
  if (before) p.set('before', String(before));
  return `/api/admin/audit?${p}`;
}

/** An entry's facts as `key: value` text (never HTML). */
function Detail({ detail }: { detail: AuditEntry['detail'] }) {
  if (!detail) return null;
  return (
    <dl class="detail">
      {Object.entries(detail).map(([k, v]) => (
        <div key={k}><dt>{revealControls(k)}</dt><dd class={k === 'sql' ? 'code' : ''}>{revealControls(typeof v === 'string' ? v : JSON.stringify(v))}</dd></div>
      ))}
    </dl>
  );
}

/** Admin → Audit log: who did what, when, from where, and the outcome; filters and more pages. */
export function AuditPage() {
  const me = session.value;
  const isAdmin = me?.user.role === 'admin';
  const [filters, setFilters] = useState<Filters>({ action: '', outcome: '', q: '', since: '' });
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState('');
  const load = (f: Filters, before?: number) =>
    api<{ entries: AuditEntry[]; next: number | null }>('GET', queryOf(f, before)).then(
      (r) => {
        setEntries((old) => (before ? [...old, ...r.entries] : r.entries));
        setNext(r.next);
        setError('');
      },
      (err: unknown) => setError(sentence(err)),
    );
  useEffect(() => {
    if (isAdmin) void load(filters);
  }, [isAdmin]);
  if (!isAdmin) return <NotAllowed />;
  const set = (patch: Partial<Filters>) => setFilters({ ...filters, ...patch });
  return (
    <section class="page">
      <div class="row"><h1>Audit log</h1><span class="spacer" /><AdminNav /></div>
      <form class="card" onSubmit={(e) => { e.preventDefault(); void load(filters); }}>
        <div class="row">
          <label>Action
            <select id="audit-action" value={filters.action} onChange={(e) => set({ action: e.currentTarget.value })}>
              <option value="">All</option>
              {ACTIONS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
            </select>
          </label>
          <label>Outcome
            <select id="audit-outcome" value={filters.outcome} onChange={(e) => set({ outcome: e.currentTarget.value })}>
              <option value="">All</option><option value="success">Success</option><option value="failure">Failure</option>
            </select>
          </label>
          <label>Since<input type="date" value={filters.since} onInput={(e) => set({ since: e.currentTarget.value })} /></label>
          <label>Search<input id="audit-q" type="search" placeholder="Name, address, target…" maxLength={200} value={filters.q} onInput={(e) => set({ q: e.currentTarget.value })} /></label>
          <button type="submit" class="primary">Filter</button>
        </div>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="card table-wrap">
        <table id="audit">
          <thead><tr><th>When</th><th>Action</th><th>Outcome</th><th>Who</th><th class="hide-narrow">From</th><th>Target</th><th>Details</th></tr></thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} class={e.outcome === 'failure' ? 'failed' : ''}>
                <td title={new Date(e.at).toISOString()}>{formatDate(e.at)}</td>
                <td>{LABEL.get(e.action) ?? e.action}</td>
                <td>{e.outcome === 'success' ? 'Success' : <strong class="fail-text">Failure</strong>}</td>
                <td>{e.actor.username ? revealControls(e.actor.username) : <span class="muted">unknown</span>}</td>
                <td class="hide-narrow">{e.ip ?? ''}</td>
                <td>{e.target ? revealControls(e.target) : ''}</td>
                <td><Detail detail={e.detail} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries.length === 0 && !error && <p class="muted">No entries match.</p>}
      </div>
      {next && <button type="button" onClick={() => void load(filters, next)}>Load older entries</button>}
    </section>
  );
}
