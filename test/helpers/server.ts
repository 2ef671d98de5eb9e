import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningServer, startServer } from '../../src/cli/commands/serve.js';
import { loadConfig } from '../../src/config.js';
import { createPgSchema, type DbKind, PG_URL } from './databases.js';

export interface TestServer extends RunningServer {
  port: number;
  dataDir: string;
  /** Every line the server printed at start. */
  banner: string[];
}

/** Generous limits so ordinary tests never trip them; rate-limit tests pass their own. */
export const TEST_ENV: Record<string, string> = {
  PLAZA_HOST: '127.0.0.1',
  PLAZA_PORT: '0',
  PLAZA_LOG_LEVEL: 'silent',
  PLAZA_RATE_LOGIN_IP: '10000/1m',
  PLAZA_RATE_LOGIN_FAIL_IP: '10000/1m',
  PLAZA_RATE_LOGIN_ACCOUNT_IP: '10000/1m',
  PLAZA_RATE_LOGIN_ACCOUNT: '10000/1m',
  PLAZA_RATE_REGISTER_IP: '10000/1m',
  PLAZA_RATE_ELEVATE_ACCOUNT: '10000/1m',
  PLAZA_RATE_ELEVATE_IP: '10000/1m',
  // Every test server would otherwise write the default 8 MiB disk reserve; the disk tests set their own.
  PLAZA_DISK_RESERVE_BYTES: String(64 * 1024),
};

/** A real Plaza on a real port, a temp data dir and a real database (SQLite file or a PostgreSQL schema). */
export async function startTestServer(db: DbKind = 'sqlite', env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-test-'));
  const pgSchema = db === 'postgres' ? await createPgSchema() : undefined;
  const config = loadConfig({
    ...TEST_ENV,
    PLAZA_DATA_DIR: dataDir,
    ...(pgSchema ? { PLAZA_DATABASE_URL: PG_URL, PLAZA_DATABASE_SCHEMA: pgSchema.schema } : {}),
    ...env,
  });
  const banner: string[] = [];
  const running = await startServer(config, (l) => banner.push(l));
  const addr = running.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    ...running,
    port,
    dataDir,
    banner,
    async close() {
      await running.close();
      await pgSchema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
