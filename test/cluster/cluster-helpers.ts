import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPgSchema, PG_URL } from '../helpers/databases.js';
import { type Served, serveProcess } from '../helpers/process.js';
import { TEST_ENV } from '../helpers/server.js';

const REDIS_SERVER = process.env.PLAZA_TEST_REDIS_SERVER ?? 'redis-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real Redis of the test's own (Debian's redis-server on a free port), so a test can stop and
 * restart it without touching anyone else's. Nothing on disk.
 */
export class TestRedis {
  child?: ChildProcess;
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.restart();
    return r;
  }

  async restart(): Promise<void> {
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`redis-server could not start (${err.message}); .ci/run installs it`)));
    });
    const deadline = Date.now() + 10_000;
    const ready = (async () => {
      while (!/Ready to accept connections/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await Promise.race([ready, failed]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
}

export interface TestCluster {
  instances: Served[];
  redis: TestRedis;
  dataDir: string;
  env: Record<string, string>;
  /** Starts one more instance on the same database, Redis and data dir. */
  add(extra?: Record<string, string>): Promise<Served>;
  close(): Promise<void>;
}

/** `n` real `plaza serve` processes on one PostgreSQL schema, one Redis and one data dir. */
export async function startCluster(n: number, extra: Record<string, string> = {}): Promise<TestCluster> {
  const redis = await TestRedis.start();
  const pg = await createPgSchema();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-cluster-'));
  const env = {
    ...TEST_ENV,
    PLAZA_LOG_LEVEL: 'warn',
    PLAZA_DATA_DIR: dataDir,
    PLAZA_DATABASE_URL: PG_URL,
    PLAZA_DATABASE_SCHEMA: pg.schema,
    PLAZA_REDIS_URL: redis.url,
    PLAZA_SECRET: 'cluster-test-secret-0123456789abcdef-xyz',
    ...extra,
  };
  const instances: Served[] = [];
  const add = async (more: Record<string, string> = {}) => {
    const s = await serveProcess({ ...env, ...more });
    instances.push(s);
    return s;
  };
  // One at a time: the first one migrates the schema.
  for (let i = 0; i < n; i++) await add();
  return {
    instances,
    redis,
    dataDir,
    env,
    add,
    async close() {
      await Promise.all(
        instances.map(async (s) => {
          if (s.child.exitCode === null && s.child.signalCode === null) {
            s.child.kill('SIGKILL');
            await s.exited;
          }
        }),
      );
      await redis.stop();
      await pg.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
