import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PieController, ArcElement, PointElement, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import type { ChartSettings, QueryResult } from './console-types.js';

// Loaded only by the database console (a chunk of its own): the rest of the app never pays for it.
Chart.register(BarController, BarElement, LineController, LineElement, PointElement, PieController, ArcElement, CategoryScale, LinearScale, Legend, Tooltip);

const PALETTE = ['#3558d6', '#1d7a46', '#c0272d', '#a15c00', '#7b3fc4', '#0f8b8d', '#d6336c', '#5d6779'];

/** A bar, line or pie chart of one result: labels from column `x`, one series per `y` column. */
export default function ResultChart({ result, settings }: { result: QueryResult; settings: ChartSettings }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const xi = result.columns.indexOf(settings.x);
    const ys = settings.y.map((y) => result.columns.indexOf(y)).filter((i) => i >= 0);
    if (!canvas.current || xi < 0 || ys.length === 0) return;
    const labels = result.rows.map((r) => String(r[xi] ?? 'NULL'));
    const text = getComputedStyle(document.documentElement).getPropertyValue('--text').trim() || '#1d2433';
    const chart = new Chart(canvas.current, {
      type: settings.type,
      data: {
        labels,
        datasets: ys.map((i, k) => ({
          label: result.columns[i] ?? '',
          data: result.rows.map((r) => Number(r[i] ?? 0)),
          backgroundColor: settings.type === 'pie' ? labels.map((_, j) => PALETTE[j % PALETTE.length] ?? '#3558d6') : PALETTE[k % PALETTE.length],
          borderColor: PALETTE[k % PALETTE.length],
        })),
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, color: text, plugins: { legend: { labels: { color: text } } } },
    });
    return () => chart.destroy();
  }, [result, settings.type, settings.x, settings.y.join('\u0000')]);
  return (
    <div class="chart-box">
      <canvas ref={canvas} role="img" aria-label={`${settings.type} chart of ${settings.y.join(', ')} by ${settings.x}`} />
    </div>
  );
}
