/**
 * What the audit log records (ops/audit/): the events, and the sink services hand them to. Plain
 * types so every feature can record without importing the audit log itself (app.ts wires it).
 * Never a secret in an event: no password, token, key or hash, only who, what and the outcome.
 */
export const AUDIT_ACTIONS = [
  'login',
  'logout',
  'elevate',
  'user.role',
  'user.disable',
  'user.enable',
  'user.delete',
  'password.change',
  'password.reset',
  'share.create',
  'console.query',
  'backup',
  'restore',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditDetail = Record<string, string | number | boolean | null>;

export interface AuditEvent {
  action: AuditAction;
  outcome: 'success' | 'failure';
  /** Who did it (undefined: unknown, e.g. a failed login for a name that is no account). */
  actor?: { id: number; username: string } | undefined;
  /** Where from: the client's address, or `cli` / `schedule` for local work. */
  ip?: string | undefined;
  /** What it was done to: a user, a file, an archive, the name tried at a failed login. */
  target?: string | undefined;
  /** Facts of the event (error code, role, SQL text and duration…), never secrets. */
  detail?: AuditDetail | undefined;
}

/** Who did it and from where, as the front doors know it. */
export interface AuditContext {
  ip: string;
}

export interface AuditSink {
  /** Queues the event; it is written with the others of the same moment in one insert. */
  record(event: AuditEvent): void;
}

/** A sink that drops everything (unit tests of a service alone). */
export const NO_AUDIT: AuditSink = { record() {} };

/** The error code of a failure, for an event's detail. */
export function failureCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code.slice(0, 64) : 'INTERNAL';
}
