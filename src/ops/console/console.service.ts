import type { User } from '../../accounts/model.js';
import type { ElevationService } from '../../accounts/elevation.service.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/connect.js';
import { type Cell, type ConsoleChunk, type ConsoleRunner, openConsoleRunner, toCell } from '../../db/console-runner.js';
import { uniqueViolation } from '../../db/errors.js';
import type { AuditContext, AuditSink } from '../../shared/audit-events.js';
import { failureCode } from '../../shared/audit-events.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import { randomId } from '../../shared/ids.js';
import type { AuditLog } from '../audit/audit.service.js';
import * as repo from './console.repository.js';
import { checkMaskedQuery, type Masker, maskerFor, maskText, NO_MASK } from './masking.js';
import { CURSOR_KEYWORDS, inspectSql } from './sql-guard.js';

export interface ConsoleInput {
  sql: string;
  /** The write switch: writes run in a transaction of their own. Needs `key`. */
  write?: boolean | undefined;
  /** Show hashes unmasked. Needs `key`. */
  unmask?: boolean | undefined;
  /** The admin's own valid access key (SPEC §2 elevation). */
  key?: string | undefined;
}

export interface ConsoleResult {
  columns: string[];
  rows: Cell[][];
  truncated: boolean;
  /** Rows a write changed (null for statements that return rows). */
  changes: number | null;
  durationMs: number;
  mode: 'read' | 'write';
}

export interface ChartSettings {
  type: 'bar' | 'line' | 'pie';
  x: string;
  y: string[];
}

export interface SavedQuery {
  id: string;
  name: string;
  sql: string;
  chart: ChartSettings | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConsoleDeps {
  database: Database;
  config: Pick<Config, 'console' | 'database'>;
  elevation: Pick<ElevationService, 'checkKey'>;
  audit: AuditSink & Pick<AuditLog, 'list'>;
  clock: Clock;
}

export type ConsoleService = ReturnType<typeof createConsoleService>;

const SAMPLE_ROWS = 20;
/**
 * Console runs in flight at once (running or waiting their turn); one more is refused at once with
 * SERVER_BUSY instead of waiting behind them (on SQLite they take turns on one process).
 */
export const MAX_CONSOLE_RUNS = 4;

function toSaved(r: repo.SavedQueryRow): SavedQuery {
  let chart: ChartSettings | null = null;
  try {
    chart = r.chart ? (JSON.parse(r.chart) as ChartSettings) : null;
  } catch {}
  return { id: r.id, name: r.name, sql: r.sql, chart, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** The admin database console (SPEC §5.5, seed 004's db_web_gui.py): catalog, SQL runner, saved queries, history. */
export function createConsoleService({ database, config, elevation, audit, clock }: ConsoleDeps) {
  const db = database.db;
  const limits = config.console;
  let runner: Promise<ConsoleRunner> | undefined;
  let inFlight = 0;
  const getRunner = () => (runner ??= openConsoleRunner(config.database));

  const authorize = (admin: User, input: ConsoleInput) => checkElevation(elevation, admin, input);

  async function tableNames(): Promise<string[]> {
    return repo.listTables(db, database.dialect);
  }

  async function tables() {
    const names = await tableNames();
    return Promise.all(names.map(async (name) => ({ name, rowCount: await repo.countRows(db, name) })));
  }

  async function table(name: string, unmasked = false) {
    if (!(await tableNames()).includes(name)) throw new AppError('NOT_FOUND', `No table named ${name}`);
    const [columns, indexes, rowCount, sample] = await Promise.all([
      repo.listColumns(db, database.dialect, name),
      repo.listIndexes(db, database.dialect, name),
      repo.countRows(db, name),
      repo.sampleRows(db, name, SAMPLE_ROWS),
    ]);
    const names = columns.map((c) => c.name);
    const masker = unmasked ? NO_MASK : maskerFor(names, [name]);
    const rows = sample.map((r) => masker.row(names.map((c) => toCell(r[c]))));
    return { name, columns, indexes, rowCount, sample: { columns: names, rows } };
  }

  /** Checks, then the statement's chunks with masking applied; `onEnd` gets the outcome. */
  async function* stream(
    admin: User,
    input: ConsoleInput,
    opts: { maxRows: number; timeoutMs: number },
    onEnd: (outcome: { rows: number; truncated: boolean; error?: unknown }) => void,
  ): AsyncGenerator<ConsoleChunk> {
    let rows = 0;
    let truncated = false;
    if (inFlight >= MAX_CONSOLE_RUNS) {
      const busy = new AppError('SERVER_BUSY', `${MAX_CONSOLE_RUNS} console queries are already running; try again when one is done`);
      onEnd({ rows, truncated, error: busy });
      throw busy;
    }
    inFlight++;
    try {
      await authorize(admin, input);
      const inspected = inspectSql(input.sql, { write: input.write === true, maxChars: limits.maxSqlChars });
      if (!input.unmask) checkMaskedQuery(inspected.words);
      const run = (await getRunner()).run({
        sql: inspected.sql,
        write: input.write === true,
        timeoutMs: opts.timeoutMs,
        maxRows: opts.maxRows,
        cursor: CURSOR_KEYWORDS.has(inspected.keyword),
      });
      let masker: Masker = NO_MASK;
      for await (const chunk of run) {
        if (chunk.kind === 'columns') masker = input.unmask ? NO_MASK : maskerFor(chunk.columns, inspected.words);
        if (chunk.kind === 'rows') {
          rows += chunk.rows.length;
          for (const r of chunk.rows) masker.row(r);
        }
        if (chunk.kind === 'end') truncated = chunk.truncated;
        yield chunk;
      }
      onEnd({ rows, truncated });
    } catch (err) {
      onEnd({ rows, truncated, error: err });
      throw err;
    } finally {
      inFlight--;
    }
  }

  /** Runs one statement; its result shown as a table (at most PLAZA_CONSOLE_MAX_ROWS rows). */
  async function run(admin: User, input: ConsoleInput, ctx: AuditContext): Promise<ConsoleResult> {
    const started = performance.now();
    const result: ConsoleResult = { columns: [], rows: [], truncated: false, changes: null, durationMs: 0, mode: input.write ? 'write' : 'read' };
    const chunks = stream(admin, input, { maxRows: limits.maxRows, timeoutMs: limits.timeoutMs }, auditQuery(audit, admin, input, ctx, started, {}));
    for await (const chunk of chunks) {
      if (chunk.kind === 'columns') result.columns = chunk.columns;
      else if (chunk.kind === 'rows') result.rows.push(...chunk.rows);
      else {
        result.truncated = chunk.truncated;
        result.changes = chunk.changes;
      }
    }
    result.durationMs = Math.round(performance.now() - started);
    return result;
  }

  /**
   * An export's chunks (read mode only: an export never writes), up to
   * PLAZA_CONSOLE_EXPORT_MAX_ROWS rows, given ten times the query timeout as a whole.
   */
  function exportRows(admin: User, input: Omit<ConsoleInput, 'write'>, format: 'csv' | 'json', ctx: AuditContext): AsyncGenerator<ConsoleChunk> {
    const started = performance.now();
    const read = { ...input, write: false };
    return stream(admin, read, { maxRows: limits.exportMaxRows, timeoutMs: limits.timeoutMs * 10 }, auditQuery(audit, admin, read, ctx, started, { export: format }));
  }

  async function history(admin: User, limit = 50) {
    const entries = await audit.list({ action: 'console.query', actorId: admin.id, limit });
    return entries.map((e) => ({ id: e.id, at: e.at, outcome: e.outcome, ...(e.detail ?? {}) }));
  }

  const saved = savedQueries(database, clock);

  return {
    tables,
    table,
    run,
    exportRows,
    history,
    saved,
    async close() {
      if (runner) await (await runner).close();
    },
  };
}


/** The audit entry of one console run, written when it ends (SQL text, mode, duration, rows, outcome). */
function auditQuery(audit: AuditSink, admin: User, input: ConsoleInput, ctx: AuditContext, started: number, extra: Record<string, string | number | boolean>) {
  return (o: { rows: number; truncated: boolean; error?: unknown }) =>
    audit.record({
      action: 'console.query',
      outcome: o.error ? 'failure' : 'success',
      actor: admin,
      ip: ctx.ip,
      detail: {
        // The SQL as typed, minus any hash pasted into it (the audit log holds no secrets).
        sql: maskText(input.sql.slice(0, 2000)),
        mode: input.write ? 'write' : 'read',
        durationMs: Math.round(performance.now() - started),
        rows: o.rows,
        truncated: o.truncated,
        unmasked: input.unmask === true,
        ...extra,
        ...(o.error ? { code: failureCode(o.error) } : {}),
      },
    });
}

/** Write and unmask need the admin's own valid access key (SPEC §2 elevation). */
async function checkElevation(elevation: ConsoleDeps['elevation'], admin: User, input: ConsoleInput): Promise<void> {
  if (!input.write && !input.unmask) return;
  const what = input.write ? 'Writing' : 'Unmasking';
  if (!input.key) throw new AppError('INVALID_ACCESS_KEY', `${what} needs a valid access key (get one under Profile)`);
  const held = await elevation.checkKey(input.key);
  if (!held || held.userId !== admin.id) throw new AppError('INVALID_ACCESS_KEY', `${what} needs a valid access key of your own: this one is unknown or expired`);
}

/** Each admin's saved queries. */
function savedQueries(database: Database, clock: Clock) {
  const db = database.db;
  const notFound = () => new AppError('NOT_FOUND', 'No such saved query');
  const taken = (name: string) => new AppError('QUERY_NAME_TAKEN', `You already have a saved query named "${name}"`);
  const chartText = (c: ChartSettings | null | undefined) => (c ? JSON.stringify({ type: c.type, x: c.x, y: c.y }) : null);
  return {
    async list(admin: User): Promise<SavedQuery[]> {
      return (await repo.listSavedQueries(db, admin.id)).map(toSaved);
    },
    async create(admin: User, input: { name: string; sql: string; chart?: ChartSettings | null | undefined }): Promise<SavedQuery> {
      const now = clock.now();
      const row: repo.SavedQueryRow = { id: randomId('qry'), user_id: admin.id, name: input.name, sql: input.sql, chart: chartText(input.chart), created_at: now, updated_at: now };
      try {
        await repo.insertSavedQuery(db, row);
      } catch (err) {
        if (uniqueViolation(err)) throw taken(input.name);
        throw err;
      }
      return toSaved(row);
    },
    async update(admin: User, id: string, patch: { name?: string | undefined; sql?: string | undefined; chart?: ChartSettings | null | undefined }): Promise<SavedQuery> {
      try {
        const ok = await repo.updateSavedQuery(db, admin.id, id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.sql !== undefined ? { sql: patch.sql } : {}),
          ...(patch.chart !== undefined ? { chart: chartText(patch.chart) } : {}),
          updated_at: clock.now(),
        });
        if (!ok) throw notFound();
      } catch (err) {
        if (uniqueViolation(err)) throw taken(patch.name ?? '');
        throw err;
      }
      const row = await repo.findSavedQuery(db, admin.id, id);
      if (!row) throw notFound();
      return toSaved(row);
    },
    async remove(admin: User, id: string): Promise<void> {
      if (!(await repo.deleteSavedQuery(db, admin.id, id))) throw notFound();
    },
  };
}
