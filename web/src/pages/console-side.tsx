import { useEffect, useState } from 'preact/hooks';
import { api, sentence } from '../api.js';
import { formatTime, revealControls } from '../format.js';
import { ResultTable } from './console-results.js';
import type { HistoryEntry, SavedQuery, TableDetail, TableSummary } from './console-types.js';
import { Modal } from './dialog.js';

/** The tables with their row counts; one opens its columns, indexes and first rows. */
export function TablesPanel({ onQuery }: { onQuery: (sql: string) => void }) {
  const [tables, setTables] = useState<TableSummary[]>([]);
  const [open, setOpen] = useState<TableDetail | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ tables: TableSummary[] }>('GET', '/api/admin/console/tables').then((r) => setTables(r.tables), (err: unknown) => setError(sentence(err)));
  }, []);
  const show = (name: string) => api<TableDetail>('GET', `/api/admin/console/tables/${encodeURIComponent(name)}`).then(setOpen, (err: unknown) => setError(sentence(err)));
  return (
    <div class="card">
      <h2>Tables</h2>
      {error && <p class="error" role="alert">{error}</p>}
      <ul class="plain-list" id="tables">
        {tables.map((t) => (
          <li key={t.name}>
            <button type="button" class="link" onClick={() => void show(t.name)}>{t.name}</button> <span class="muted small-text">{t.rowCount === 1 ? '1 row' : `${t.rowCount} rows`}</span>
          </li>
        ))}
      </ul>
      {open && (
        <Modal title={`Table ${open.name}`} wide onClose={() => setOpen(null)}>
          <p>{open.rowCount === 1 ? '1 row' : `${open.rowCount} rows`}.</p>
          <ResultTable label={`Columns of ${open.name}`} columns={['Column', 'Type', 'Nullable', 'Key', 'Default']} rows={open.columns.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no', c.primaryKey ? 'primary' : '', c.default])} />
          <h3>Indexes</h3>
          {open.indexes.length === 0 ? <p class="muted">None.</p> : (
            <ul class="plain-list">{open.indexes.map((i) => <li key={i.name}><code>{i.definition ?? `${i.name}${i.unique ? ' (unique)' : ''}`}</code></li>)}</ul>
          )}
          <h3>First rows</h3>
          <ResultTable label={`First rows of ${open.name}`} columns={open.sample.columns} rows={open.sample.rows} />
          <div class="buttons">
            <button type="button" onClick={() => setOpen(null)}>Close</button>
            <button type="button" class="primary" onClick={() => { onQuery(`select * from ${open.name} limit 100`); setOpen(null); }}>Query this table</button>
          </div>
        </Modal>
      )}
    </div>
  );
}

/** Saved queries: one click runs one (with its chart). */
export function SavedPanel({ saved, onRun, onDelete }: { saved: SavedQuery[]; onRun: (q: SavedQuery) => void; onDelete: (q: SavedQuery) => void }) {
  return (
    <div class="card">
      <h2>Saved queries</h2>
      {saved.length === 0 ? <p class="muted">None yet: run a query, then save it with a name.</p> : (
        <ul class="plain-list" id="saved">
          {saved.map((q) => (
            <li key={q.id}>
              <button type="button" class="link" title={q.sql} onClick={() => onRun(q)}>{revealControls(q.name)}</button>
              {q.chart && <span class="muted small-text"> ({q.chart.type} chart)</span>}{' '}
              <button type="button" class="small ghost" aria-label={`Delete saved query ${q.name}`} onClick={() => onDelete(q)}>Delete</button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The admin's last queries (from the audit log); one puts its SQL back in the editor. */
export function HistoryPanel({ history, onUse }: { history: HistoryEntry[]; onUse: (sql: string) => void }) {
  return (
    <div class="card">
      <h2>History</h2>
      {history.length === 0 ? <p class="muted">No queries yet.</p> : (
        <ul class="plain-list history" id="history">
          {history.map((h) => (
            <li key={h.id}>
              <button type="button" class="link code" onClick={() => onUse(h.sql ?? '')}>{revealControls((h.sql ?? '').slice(0, 120))}</button>
              <div class="muted small-text">
                {formatTime(h.at)} · {h.mode ?? 'read'}{h.export ? ` · ${h.export} export` : ''} · {h.outcome === 'success' ? `${h.rows ?? 0} rows, ${h.durationMs ?? 0} ms` : `failed (${h.code ?? 'error'})`}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
