import { stringify } from 'csv-stringify/sync';
import type { Cell, ConsoleChunk } from '../../db/console-runner.js';

/**
 * A console result as a streamed download. CSV through csv-stringify, formula-safe: a text cell
 * a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets a
 * leading apostrophe (OWASP's CSV injection advice). JSON: an array of one object per row.
 */

const FORMULA = /^[=+\-@\t\r]/;

export function formulaSafe(cell: Cell): Cell {
  return typeof cell === 'string' && FORMULA.test(cell) ? `'${cell}` : cell;
}

const csvLine = (rows: Cell[][]) => stringify(rows.map((r) => r.map(formulaSafe)), { cast: { boolean: (b) => (b ? 'true' : 'false') } });

/** The CSV text of a run, chunk by chunk (the header line first). */
export async function* csvChunks(first: ConsoleChunk, rest: AsyncIterator<ConsoleChunk>): AsyncGenerator<string> {
  for (let c: ConsoleChunk | undefined = first; c; c = await nextOf(rest)) {
    if (c.kind === 'columns' && c.columns.length > 0) yield csvLine([c.columns]);
    if (c.kind === 'rows') yield csvLine(c.rows);
  }
}

/** The JSON text of a run: `[{"column": value, …}, …]`, chunk by chunk. */
export async function* jsonChunks(first: ConsoleChunk, rest: AsyncIterator<ConsoleChunk>): AsyncGenerator<string> {
  let columns: string[] = [];
  let n = 0;
  yield '[';
  for (let c: ConsoleChunk | undefined = first; c; c = await nextOf(rest)) {
    if (c.kind === 'columns') columns = c.columns;
    if (c.kind === 'rows') {
      let text = '';
      for (const r of c.rows) {
        const o = Object.create(null) as Record<string, Cell>; // a column named __proto__ stays a column
        columns.forEach((name, i) => (o[name] = r[i] ?? null));
        text += `${n++ === 0 ? '\n' : ',\n'}${JSON.stringify(o)}`;
      }
      yield text;
    }
  }
  yield '\n]\n';
}

async function nextOf(it: AsyncIterator<ConsoleChunk>): Promise<ConsoleChunk | undefined> {
  const r = await it.next();
  return r.done ? undefined : r.value;
}
