import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * The PostgreSQL cluster the outage tests stop and start: one of their own (scripts/outage-cluster.sh
 * creates it, .ci/run calls that), never the shared one on 5432 that other test files use meanwhile.
 */
const run = promisify(execFile);
const PORT = Number(process.env.PLAZA_OUTAGE_PG_PORT ?? 5433);
export const OUTAGE_PG_URL = `postgres://postgres@127.0.0.1:${PORT}/test`;
const NAME = 'plaza_outage';

function version(): string | undefined {
  try {
    return readdirSync('/etc/postgresql').sort((a, b) => Number(a) - Number(b)).pop();
  } catch {
    return undefined;
  }
}

async function answers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: OUTAGE_PG_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ctl(action: 'start' | 'stop') {
  const v = version();
  if (!v) throw new Error('no /etc/postgresql: PostgreSQL is not installed');
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', v, NAME, action, ...(action === 'stop' ? ['-m', 'fast'] : [])]);
}

export interface OutageCluster {
  url: string;
  /** Stops the real server (fast shutdown: sessions are cut) and resolves once it is down. */
  stop(): Promise<void>;
  /** Starts it again and resolves once it takes connections. */
  start(): Promise<void>;
  /** A fresh schema on it, dropped by the returned function (once the server is up again). */
  schema(): Promise<{ schema: string; drop(): Promise<void> }>;
}

/**
 * The outage cluster, started if it is down; undefined (with a clear line) when it is not there.
 * In CI (CI=true) a missing cluster fails the run instead.
 */
export async function outageCluster(): Promise<OutageCluster | undefined> {
  if (!(await answers())) await ctl('start').catch(() => {});
  for (let i = 0; i < 50 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await answers())) {
    const why = `the outage PostgreSQL cluster (${NAME}, ${OUTAGE_PG_URL}) is not running; create it with scripts/outage-cluster.sh`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`Required in CI: ${why}`);
    console.warn(`SKIPPING the PostgreSQL outage tests: ${why}. They run in CI.`);
    return undefined;
  }
  return {
    url: OUTAGE_PG_URL,
    stop: () => ctl('stop'),
    async start() {
      if (await answers()) return;
      await ctl('start');
      for (let i = 0; i < 100 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 50));
    },
    async schema() {
      const schema = `o_${randomBytes(6).toString('hex')}`;
      const sql = async (text: string) => {
        const c = new pg.Client({ connectionString: OUTAGE_PG_URL });
        await c.connect();
        await c.query(text);
        await c.end();
      };
      await sql(`create schema ${schema}`);
      return { schema, drop: () => sql(`drop schema if exists ${schema} cascade`) };
    },
  };
}
