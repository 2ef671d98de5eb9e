import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { revealControls } from '../format.js';
import type { Cell, ChartSettings, QueryResult } from './console-types.js';

/** One cell as text (never HTML): NULL marked, control characters made visible. */
function CellText({ value }: { value: Cell }) {
  if (value === null) return <span class="muted">NULL</span>;
  return <>{revealControls(String(value))}</>;
}

/** Columns and rows as a table; `label` names it for screen readers. */
export function ResultTable({ columns, rows, label, id }: { columns: string[]; rows: Cell[][]; label: string; id?: string }) {
  return (
    <div class="table-wrap result-wrap">
      <table class="result" id={id} aria-label={label}>
        <thead><tr>{columns.map((c, i) => <th key={i} scope="col">{revealControls(c)}</th>)}</tr></thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>{r.map((v, j) => <td key={j} class={typeof v === 'number' ? 'num' : ''}><CellText value={v} /></td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

type ChartView = FunctionComponent<{ result: QueryResult; settings: ChartSettings }>;
let chartModule: Promise<ChartView> | undefined;
/** chart.js and the chart component: a chunk of their own, fetched the first time a chart is drawn. */
const loadChart = () => (chartModule ??= import('./console-chart.js').then((m) => m.default));

/** Which columns can be charted (numbers in the rows). */
const numericColumns = (r: QueryResult) => r.columns.filter((_, i) => r.rows.some((row) => typeof row[i] === 'number'));

/** Chart settings for a result (type, labels column, value columns) and the chart itself. */
export function ChartPanel({ result, settings, onChange }: { result: QueryResult; settings: ChartSettings | null; onChange: (s: ChartSettings | null) => void }) {
  const [View, setView] = useState<ChartView | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    if (settings && !View) loadChart().then((v) => setView(() => v), () => setError('The chart could not be loaded.'));
  }, [settings !== null]);
  const numbers = numericColumns(result);
  if (result.columns.length < 2 || numbers.length === 0) return null;
  const pick = (patch: Partial<ChartSettings>) => {
    const base: ChartSettings = settings ?? { type: 'bar', x: result.columns[0] ?? '', y: [numbers[0] ?? ''] };
    onChange({ ...base, ...patch });
  };
  return (
    <div class="card chart-panel">
      <h2>Chart</h2>
      <div class="row">
        <label>Type
          <select value={settings?.type ?? 'none'} onChange={(e) => (e.currentTarget.value === 'none' ? onChange(null) : pick({ type: e.currentTarget.value as ChartSettings['type'] }))}>
            <option value="none">No chart</option>
            <option value="bar">Bar</option>
            <option value="line">Line</option>
            <option value="pie">Pie</option>
          </select>
        </label>
        {settings && (
          <>
            <label>Labels
              <select value={settings.x} onChange={(e) => pick({ x: e.currentTarget.value })}>
                {result.columns.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </label>
            <fieldset class="inline-set">
              <legend>Values</legend>
              {numbers.map((c) => (
                <label key={c} class="inline">
                  <input type="checkbox" checked={settings.y.includes(c)} onChange={(e) => pick({ y: e.currentTarget.checked ? [...settings.y, c] : settings.y.filter((y) => y !== c) })} />
                  {c}
                </label>
              ))}
            </fieldset>
          </>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {settings && View && settings.y.length > 0 && <View result={result} settings={settings} />}
    </div>
  );
}
