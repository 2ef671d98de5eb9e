import { EXIT } from '../exit-codes.js';
import { ClientError } from './errors.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function humanSize(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** "2026-12-04 19:56" in UTC. */
export const shortTime = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** Control characters (a server-sent name could carry escape sequences) shown as "?". */
export const printable = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][], rightAligned: Set<number> = new Set()): string[] {
  const width = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        if (i === cells.length - 1 && !rightAligned.has(i)) return c;
        const pad = ' '.repeat(Math.max(0, (width[i] ?? 0) - [...c].length));
        return rightAligned.has(i) ? pad + c : c + pad;
      })
      .join('  ');
  return [line(header), ...rows.map(line)];
}

/** "7d", "12h", "30m", "90s" (or a bare number of seconds) → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhdw]?)$/.exec(text.trim());
  if (!m) throw new ClientError('USAGE', `"${text}" is not a duration (e.g. 30m, 12h, 7d).`, EXIT.usage);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}
