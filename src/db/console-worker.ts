// The database console's process on SQLite (console-sqlite.ts forks it): its own connections to
// the database file, one statement at a time, rows sent in batches, each batch waiting for the
// parent to ask for the next. The parent kills it at the timeout: that is the one way to stop a
// statement better-sqlite3 is inside. Built into dist/ as its own entry point (scripts/build.mjs).
import Sqlite from 'better-sqlite3';
import { CONSOLE_BATCH, toCell } from './console-cells.js';

export type WorkerRequest = { type: 'run'; sql: string; write: boolean; maxRows: number } | { type: 'more' } | { type: 'stop' };
export type WorkerReply =
  | { type: 'columns'; columns: string[] }
  | { type: 'rows'; rows: unknown[][] }
  | { type: 'end'; truncated: boolean; changes: number | null }
  | { type: 'error'; message: string };

const file = process.argv[2];
if (!file || !process.send) throw new Error('console-worker is forked by console-sqlite.ts with the database file');
const send = (m: WorkerReply) => process.send?.(m);

let reader: Sqlite.Database | undefined;
let writer: Sqlite.Database | undefined;
let waiting: ((m: WorkerRequest) => void) | undefined;

function readConnection(): Sqlite.Database {
  if (!reader) {
    reader = new Sqlite(file as string, { readonly: true, fileMustExist: true });
    reader.pragma('query_only = ON');
    reader.pragma('busy_timeout = 1000');
    reader.defaultSafeIntegers(false);
  }
  return reader;
}

function writeConnection(): Sqlite.Database {
  if (!writer) {
    writer = new Sqlite(file as string, { fileMustExist: true });
    writer.pragma('busy_timeout = 2000');
    writer.pragma('foreign_keys = ON');
  }
  return writer;
}

const next = () => new Promise<WorkerRequest>((resolve) => (waiting = resolve));

async function run(sql: string, write: boolean, maxRows: number): Promise<void> {
  const db = write ? writeConnection() : readConnection();
  const stmt = db.prepare(sql);
  if (write) db.prepare('BEGIN IMMEDIATE').run();
  try {
    if (!stmt.reader) {
      const r = stmt.run();
      if (write) db.prepare('COMMIT').run();
      send({ type: 'columns', columns: [] });
      send({ type: 'end', truncated: false, changes: r.changes });
      return;
    }
    send({ type: 'columns', columns: stmt.columns().map((c) => c.name) });
    stmt.raw(true);
    let batch: unknown[][] = [];
    let count = 0;
    let truncated = false;
    for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
      if (count === maxRows) {
        truncated = true;
        break;
      }
      batch.push(row.map(toCell));
      count++;
      if (batch.length === CONSOLE_BATCH) {
        send({ type: 'rows', rows: batch });
        batch = [];
        if ((await next()).type === 'stop') break;
      }
    }
    if (batch.length > 0) send({ type: 'rows', rows: batch });
    if (write) db.prepare('COMMIT').run();
    send({ type: 'end', truncated, changes: null });
  } catch (err) {
    if (write && db.inTransaction) db.prepare('ROLLBACK').run();
    throw err;
  }
}

process.on('message', (m: WorkerRequest) => {
  if (waiting && m.type !== 'run') {
    const w = waiting;
    waiting = undefined;
    w(m);
    return;
  }
  if (m.type !== 'run') return;
  run(m.sql, m.write, m.maxRows).catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
});
process.on('disconnect', () => process.exit(0));
