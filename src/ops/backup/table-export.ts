import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from '../../db/connect.js';
import { TABLES } from './backup-format.js';
import { appliedMigrations, pageRows } from './backup.repository.js';

const PAGE = 2000;

export interface StoredFileRef {
  category: 'images' | 'documents' | 'files';
  storedName: string;
  size: number;
}

export interface TableExport {
  migrations: string[];
  rowCounts: Record<string, number>;
  /** Per table, the JSONL file written. */
  tableFiles: Array<{ table: string; file: string }>;
  /** Every stored file the snapshot lists. */
  files: StoredFileRef[];
}

/**
 * Writes every Plaza table of one snapshot as JSON lines into `dir` (a logical export: the same
 * rows restore onto SQLite or PostgreSQL), page by page in primary-key order.
 */
export async function exportTables(view: Database['db'], dir: string, onRows: (n: number) => void = () => {}): Promise<TableExport> {
  const result: TableExport = { migrations: await appliedMigrations(view), rowCounts: {}, tableFiles: [], files: [] };
  for (const { name, key } of TABLES) {
    const file = `${dir}/${name}.jsonl`;
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    let count = 0;
    let after: unknown[] | undefined;
    for (;;) {
      const rows = await pageRows(view, name, key, after, PAGE);
      let text = '';
      for (const row of rows) {
        text += `${JSON.stringify(row)}\n`;
        if (name === 'files') {
          result.files.push({ category: row.category as StoredFileRef['category'], storedName: String(row.stored_name), size: Number(row.size) });
        }
      }
      if (text && !out.write(text)) await once(out, 'drain');
      count += rows.length;
      onRows(rows.length);
      const last = rows.at(-1);
      if (!last || rows.length < PAGE) break;
      after = key.map((k) => last[k]);
      // Other requests get the event loop between pages (SQLite's reads are synchronous).
      await nextTurn();
    }
    out.end();
    await once(out, 'finish');
    result.rowCounts[name] = count;
    result.tableFiles.push({ table: name, file });
  }
  return result;
}
