import type { Database } from '../../db/connect.js';
import type { AuditEvent, AuditSink } from '../../shared/audit-events.js';
import type { Clock } from '../../shared/clock.js';
import * as repo from './audit.repository.js';

/** Events held while the database refuses them; past this the oldest are dropped (and counted). */
const MAX_PENDING = 10_000;
const MAX_TEXT = 4000;
/**
 * Events are gathered this long and written in one insert (one commit, one fsync on SQLite): a
 * burst of logins costs a few commits a second, not one each. `flush` (and `core.close`) write
 * at once.
 */
const BATCH_MS = 200;

export interface AuditEntry {
  id: number;
  at: number;
  action: string;
  outcome: 'success' | 'failure';
  actor: { id: number | null; username: string | null };
  ip: string | null;
  target: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditDeps {
  database: Database;
  clock: Clock;
  /** Days entries are kept; 0 = forever. */
  retentionDays: number;
  /** A write that failed (logged by the caller; the events stay queued). */
  onError?: (err: unknown) => void;
}

export type AuditLog = ReturnType<typeof createAuditLog>;

const clip = (s: string | undefined | null) => (s == null ? null : s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s);

function toRow(e: AuditEvent, at: number): repo.NewAuditRow {
  return {
    at,
    action: e.action,
    outcome: e.outcome,
    actor_id: e.actor?.id ?? null,
    actor_name: clip(e.actor?.username),
    ip: clip(e.ip),
    target: clip(e.target),
    detail: e.detail ? clip(JSON.stringify(e.detail)) : null,
  };
}

function toEntry(r: repo.AuditRow): AuditEntry {
  let detail: Record<string, unknown> | null = null;
  try {
    detail = r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null;
  } catch {
    detail = { text: r.detail };
  }
  return {
    id: r.id,
    at: r.at,
    action: r.action,
    outcome: r.outcome,
    actor: { id: r.actor_id, username: r.actor_name },
    ip: r.ip,
    target: r.target,
    detail,
  };
}

/**
 * The audit log. `record` never waits: the events of the next BATCH_MS are written together in
 * one multi-row insert (a login costs no round trip of its own); `flush` writes and waits for
 * everything recorded so far. A failed write keeps the events for the next one.
 */
export function createAuditLog({ database, clock, retentionDays, onError }: AuditDeps) {
  let pending: repo.NewAuditRow[] = [];
  let scheduled = false;
  let writing: Promise<void> = Promise.resolve();
  let dropped = 0;

  function write(): Promise<void> {
    scheduled = false;
    const rows = pending;
    pending = [];
    writing = writing.then(async () => {
      try {
        for (let i = 0; i < rows.length; i += 500) await repo.insertAuditRows(database.db, rows.slice(i, i + 500));
      } catch (err) {
        pending = [...rows, ...pending];
        if (pending.length > MAX_PENDING) {
          dropped += pending.length - MAX_PENDING;
          pending = pending.slice(pending.length - MAX_PENDING);
        }
        onError?.(err);
      }
    });
    return writing;
  }

  const sink: AuditSink = {
    record(event) {
      pending.push(toRow(event, clock.now()));
      if (!scheduled) {
        scheduled = true;
        setTimeout(() => void write(), BATCH_MS).unref();
      }
    },
  };

  async function flush(): Promise<void> {
    await writing;
    if (pending.length > 0) await write();
  }

  async function list(filter: repo.AuditFilter): Promise<AuditEntry[]> {
    await flush();
    return (await repo.listAuditRows(database.db, filter)).map(toEntry);
  }

  /** Removes entries past the retention; the number removed. */
  async function sweep(): Promise<number> {
    if (retentionDays === 0) return 0;
    return repo.deleteAuditRowsBefore(database.db, clock.now() - retentionDays * 86400_000);
  }

  return { ...sink, flush, list, sweep, droppedCount: () => dropped };
}
