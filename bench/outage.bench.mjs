// PostgreSQL outage (issue 16): a real PostgreSQL (the outage cluster of scripts/outage-cluster.sh,
// port 5433 — never the shared one) is stopped and started under load while `plaza serve` runs
// in its own process. Measured in the same run: the healthy latency of the same request (the
// ceiling), the time to a 503 while the database is down (target p99 ≤ 100 ms), and the time from
// the database's return (it takes connections again) to the first successful request (≤ 5 s).
//   npm run bench:outage            CYCLES=3 WORKERS=16 REQUESTS=1500
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { median, startProcess, tempDir } from './lib.mjs';

const CYCLES = Number(process.env.CYCLES ?? 3);
const WORKERS = Number(process.env.WORKERS ?? 16);
const REQUESTS = Number(process.env.REQUESTS ?? 1500);
const PORT = Number(process.env.PLAZA_OUTAGE_PG_PORT ?? 5433);
const URL_ = `postgres://postgres@127.0.0.1:${PORT}/test`;
const VERSION = readdirSync('/etc/postgresql').sort((a, b) => Number(a) - Number(b)).pop();
const MAIN = path.resolve('dist/plaza.mjs');

const ctl = (action) =>
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', VERSION, 'plaza_outage', action, ...(action === 'stop' ? ['-m', 'fast'] : [])]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (ms) => `${ms.toFixed(1)} ms`;

async function pgAnswers() {
  const c = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

async function sql(text) {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  await c.query(text);
  await c.end();
}

/** `REQUESTS` GETs of /api/files from `WORKERS` keep-alive clients: each one's status and latency. */
async function burst(base, token) {
  const out = [];
  let left = REQUESTS;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (left-- > 0) {
        const t0 = performance.now();
        const r = await fetch(`${base}/api/files`, { headers: { authorization: `Bearer ${token}` } });
        await r.arrayBuffer();
        out.push({ status: r.status, ms: performance.now() - t0 });
      }
    }),
  );
  return out;
}

/** From the database's return: ms until the first 200. */
async function recovery(base, token) {
  const t0 = performance.now();
  for (;;) {
    const r = await fetch(`${base}/api/files`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    if (r.status === 200) return performance.now() - t0;
    await sleep(5);
  }
}

if (!(await pgAnswers())) ctl('start');
for (let i = 0; i < 50 && !(await pgAnswers()); i++) await sleep(100);
if (!(await pgAnswers())) throw new Error(`the outage cluster (${URL_}) is not running: run scripts/outage-cluster.sh`);
const schema = `bench_${Date.now()}`;
await sql(`create schema ${schema}`);
const server = await startProcess(
  [MAIN, 'serve'],
  {
    PLAZA_DATA_DIR: tempDir('plaza-bench-outage-'),
    PLAZA_DATABASE_URL: URL_,
    PLAZA_DATABASE_SCHEMA: schema,
    PLAZA_HOST: '127.0.0.1',
    PLAZA_PORT: '0',
    PLAZA_LOG_LEVEL: 'silent',
    PLAZA_DISK_RESERVE_BYTES: '65536',
  },
  /"url":"([^"]+)"/,
);
const base = server.match[1];
try {
  const auth = { username: 'bench', password: 'correct-horse-9' };
  await fetch(`${base}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(auth) });
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: auth.username, password: auth.password }),
  });
  const { accessToken: token } = await login.json();
  await burst(base, token); // warm-up
  const healthy = [];
  const down = [];
  const back = [];
  const statuses = new Map();
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    healthy.push(...(await burst(base, token)).map((r) => r.ms));
    ctl('stop');
    const answers = await burst(base, token);
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    down.push(...answers.map((r) => r.ms));
    ctl('start');
    while (!(await pgAnswers())) await sleep(5);
    back.push(await recovery(base, token));
  }
  const hp99 = pct(healthy, 99);
  const dp99 = pct(down, 99);
  console.log(`PostgreSQL outage, ${CYCLES} stop/start cycles, ${WORKERS} clients × ${REQUESTS} GET /api/files per phase`);
  console.log(`  healthy (ceiling):   p50 ${fmt(pct(healthy, 50))}  p99 ${fmt(hp99)}`);
  console.log(`  database down:       p50 ${fmt(pct(down, 50))}  p99 ${fmt(dp99)}  max ${fmt(Math.max(...down))}  (${dp99 <= 100 ? 'meets' : 'MISSES'} p99 ≤ 100 ms; ${(dp99 / hp99).toFixed(2)}× the healthy p99)`);
  console.log(`  statuses while down: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
  console.log(`  first 200 after the database returns: median ${fmt(median(back))}, worst ${fmt(Math.max(...back))} (${Math.max(...back) <= 5000 ? 'meets' : 'MISSES'} ≤ 5 s)`);
} finally {
  await server.stop();
  if (!(await pgAnswers())) ctl('start');
  await sql(`drop schema if exists ${schema} cascade`).catch(() => {});
}
