import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, errorFromBody, sentence } from '../api.js';
import { session } from '../session.js';
import { AdminNav, NotAllowed } from './admin-nav.js';
import { ChartPanel, ResultTable } from './console-results.js';
import { HistoryPanel, SavedPanel, TablesPanel } from './console-side.js';
import type { ChartSettings, HistoryEntry, QueryResult, SavedQuery } from './console-types.js';

interface Switches {
  write: boolean;
  unmask: boolean;
  key: string;
}

/** The body of a query or export: the key only when a switch needs it (else the key cookie, if any, is sent anyway). */
const bodyOf = (sql: string, s: Switches) => ({ sql, ...(s.write ? { write: true } : {}), ...(s.unmask ? { unmask: true } : {}), ...(s.key.trim() ? { key: s.key.trim() } : {}) });

/** A streamed export saved by the browser as a file. */
async function download(sql: string, format: 'csv' | 'json', s: Switches) {
  const { write: _w, ...body } = { ...bodyOf(sql, s), format };
  const res = await fetch('/api/admin/console/export', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw errorFromBody(res.status, await res.text());
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `plaza-query.${format}`;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function Summary({ result }: { result: QueryResult }) {
  const what = result.changes !== null && result.columns.length === 0 ? `${result.changes} rows changed` : `${result.rows.length} rows`;
  return (
    <p id="result-summary" role="status">
      {what} in {result.durationMs} ms ({result.mode === 'write' ? 'written' : 'read-only'}){result.truncated && ' — cut at the row limit; export for more'}.
    </p>
  );
}

/** Admin → Database console: tables, a SQL runner (read-only by default), charts, saved queries, history. */
export function ConsolePage() {
  const me = session.value;
  const [sql, setSql] = useState('select role, count(*) as users from users group by role');
  const [switches, setSwitches] = useState<Switches>({ write: false, unmask: false, key: '' });
  const [result, setResult] = useState<QueryResult | null>(null);
  const [chart, setChart] = useState<ChartSettings | null>(null);
  const [error, setError] = useState('');
  const [running, setRunning] = useState(false);
  const [saved, setSaved] = useState<SavedQuery[]>([]);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [name, setName] = useState('');
  const isAdmin = me?.user.role === 'admin';
  const refresh = () => {
    void api<{ queries: SavedQuery[] }>('GET', '/api/admin/console/saved').then((r) => setSaved(r.queries), () => {});
    void api<{ history: HistoryEntry[] }>('GET', '/api/admin/console/history').then((r) => setHistory(r.history), () => {});
  };
  useEffect(() => {
    if (isAdmin) refresh();
  }, [isAdmin]);
  if (!isAdmin) return <NotAllowed />;

  async function run(text = sql, chartOf: ChartSettings | null = chart) {
    setRunning(true);
    setError('');
    try {
      const r = await api<QueryResult>('POST', '/api/admin/console/query', bodyOf(text, switches), { allow401: true });
      setResult(r);
      setChart(chartOf && chartOf.y.every((y) => r.columns.includes(y)) && r.columns.includes(chartOf.x) ? chartOf : null);
    } catch (err) {
      setResult(null);
      setError(err instanceof ApiError && err.code === 'INVALID_ACCESS_KEY' ? `${err.message}.` : sentence(err));
    } finally {
      setRunning(false);
      refresh();
    }
  }
  async function save() {
    try {
      await api('POST', '/api/admin/console/saved', { name: name.trim(), sql, chart });
      setName('');
      refresh();
    } catch (err) {
      setError(sentence(err));
    }
  }
  const openSaved = (q: SavedQuery) => {
    setSql(q.sql);
    void run(q.sql, q.chart);
  };
  const remove = (q: SavedQuery) => void api('DELETE', `/api/admin/console/saved/${encodeURIComponent(q.id)}`).then(refresh, (err: unknown) => setError(sentence(err)));
  const exportAs = (format: 'csv' | 'json') => download(sql, format, switches).catch((err: unknown) => setError(sentence(err)));
  return (
    <section class="page">
      <div class="row"><h1>Database console</h1><span class="spacer" /><AdminNav /></div>
      <div class="console">
        <div class="console-main">
          <form class="card" onSubmit={(e) => { e.preventDefault(); void run(); }}>
            <label for="sql">SQL (one statement)</label>
            <textarea id="sql" class="sql" rows={6} spellcheck={false} value={sql} onInput={(e) => setSql(e.currentTarget.value)}
              onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void run(); } }} />
            <div class="row">
              <label class="inline"><input type="checkbox" id="write" checked={switches.write} onChange={(e) => setSwitches({ ...switches, write: e.currentTarget.checked })} /> Write (commits changes)</label>
              <label class="inline"><input type="checkbox" id="unmask" checked={switches.unmask} onChange={(e) => setSwitches({ ...switches, unmask: e.currentTarget.checked })} /> Show hashes</label>
              {(switches.write || switches.unmask) && (
                <label>Access key <span class="muted small-text">(empty: the one from Profile)</span>
                  <input type="password" autoComplete="off" value={switches.key} onInput={(e) => setSwitches({ ...switches, key: e.currentTarget.value })} />
                </label>
              )}
            </div>
            {switches.write && <p class="warn-text">Writes run in a transaction and are committed: there is no undo.</p>}
            <div class="row">
              <button type="submit" class={switches.write ? 'danger' : 'primary'} disabled={running}>{running ? 'Running…' : switches.write ? 'Run and commit' : 'Run'}</button>
              <button type="button" onClick={() => void exportAs('csv')}>Export CSV</button>
              <button type="button" onClick={() => void exportAs('json')}>Export JSON</button>
              <span class="spacer" />
              <input aria-label="Name for this query" placeholder="Name" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
              <button type="button" disabled={!name.trim()} onClick={() => void save()}>Save query</button>
            </div>
          </form>
          {error && <p class="error" role="alert" id="console-error">{error}</p>}
          {result && (
            <div class="card">
              <Summary result={result} />
              {result.columns.length > 0 && <ResultTable id="result" label="Query result" columns={result.columns} rows={result.rows} />}
            </div>
          )}
          {result && <ChartPanel result={result} settings={chart} onChange={setChart} />}
        </div>
        <aside class="console-side">
          <TablesPanel onQuery={(text) => { setSql(text); void run(text, null); }} />
          <SavedPanel saved={saved} onRun={openSaved} onDelete={remove} />
          <HistoryPanel history={history} onUse={setSql} />
        </aside>
      </div>
    </section>
  );
}
