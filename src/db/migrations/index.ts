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
import * as m0010 from './0010_read_cursors.js';
import * as m0011 from './0011_file_list_orders.js';
import * as m0012 from './0012_cluster_identity.js';
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
  '0010_read_cursors': m0010,
  '0011_file_list_orders': m0011,
  '0012_cluster_identity': m0012,
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
    // Numbers were handed out to work that landed in another order (0011 and 0012 before 0008–0010):
    // a database that ran a later one still gets the earlier ones. Each migration stands alone.
    allowUnorderedMigrations: true,
  });
  // Kysely looks for its tables through every schema's catalog entries (has_schema_privilege on
  // each name): a schema dropped by someone else meanwhile fails that with 3F000
  // (invalid_schema_name) before any migration ran. That is not ours: look again.
  for (let attempt = 1; ; attempt++) {
    const result = await migrator.migrateToLatest();
    if (!result.error) return result;
    if ((result.error as { code?: unknown }).code !== '3F000' || attempt >= 3) throw result.error;
  }
}
