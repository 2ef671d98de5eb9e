/** Result cells of the database console, shared by its runners and its SQLite process (console-worker.ts). */

export type Cell = string | number | boolean | null;

/** Rows per batch between the runner and its consumer (each batch waits for the last to be taken). */
export const CONSOLE_BATCH = 500;

/** A database value as a result cell: blobs as `\x` hex, times as ISO text, objects as JSON. */
export function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `\\x${Buffer.from(v).toString('hex')}`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  return JSON.stringify(v);
}

