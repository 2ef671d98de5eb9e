import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';
import * as m0001 from './0001_accounts.js';
import * as m0002 from './0002_files.js';

/** Frozen and listed statically: never edit a shipped migration, add a new one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_accounts': m0001,
  '0002_files': m0002,
};

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
