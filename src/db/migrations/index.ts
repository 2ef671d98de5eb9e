import { type Kysely, type Migration, type MigrationResultSet, Migrator, sql } from 'kysely';
import * as m0001 from './0001_accounts.js';
import * as m0002 from './0002_files.js';
import * as m0003 from './0003_chat.js';
import * as m0004 from './0004_rotated_refresh_tokens.js';
import * as m0005 from './0005_refresh_reuse_grace.js';
import * as m0006 from './0006_restores.js';
import * as m0007 from './0007_file_totals.js';
import * as m0008 from './0008_audit_log.js';
import * as m0009 from './0009_console_queries.js';
import { isPostgres } from './portable.js';

/** Frozen and listed statically: never edit a shipped migration, add a new one. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_accounts': m0001,
  '0002_files': m0002,
  '0003_chat': m0003,
  '0004_rotated_refresh_tokens': m0004,
  '0005_refresh_reuse_grace': m0005,
  '0006_restores': m0006,
  '0007_file_totals': m0007,
  '0008_audit_log': m0008,
  '0009_console_queries': m0009,
};

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  // On PostgreSQL the migrator must look for its bookkeeping tables in our schema only: another
  // schema of the same database may hold Kysely tables of its own.
  const schema = isPostgres(db)
    ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s
    : undefined;
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
