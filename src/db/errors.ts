/** Recognises the database drivers' constraint errors (better-sqlite3 and pg) without importing either. */

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/** The `table.column` (or constraint) a unique violation was about, or undefined. */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as DriverError;
  if (e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const m = /UNIQUE constraint failed: ([\w.]+)/.exec(String(e.message));
    return m?.[1] ?? 'unknown';
  }
  if (e?.code === '23505') {
    // pg names unique constraints <table>_<column>_key.
    const c = String(e.constraint ?? '');
    const m = /^(\w+?)_(\w+)_key$/.exec(c);
    return m ? `${m[1]}.${m[2]}` : c;
  }
  return undefined;
}
