import type { Readers } from './config.js';
import type { Config } from './config-types.js';

/** The database console's limits (PLAZA_CONSOLE_*), read by config.ts. */
export function readConsole({ int }: Readers): Config['console'] {
  return {
    timeoutMs: int('PLAZA_CONSOLE_TIMEOUT_MS', 5000, 100, 600_000),
    maxRows: int('PLAZA_CONSOLE_MAX_ROWS', 1000, 1, 100_000),
    exportMaxRows: int('PLAZA_CONSOLE_EXPORT_MAX_ROWS', 100_000, 1, 10_000_000),
    maxSqlChars: int('PLAZA_CONSOLE_MAX_SQL_CHARS', 20_000, 10, 1_000_000),
  };
}

/** PLAZA_AUDIT_RETENTION_DAYS: how long audit entries are kept (0 = forever). */
export function readAudit({ int }: Readers): Config['audit'] {
  return { retentionDays: int('PLAZA_AUDIT_RETENTION_DAYS', 365, 0, 36_500) };
}
