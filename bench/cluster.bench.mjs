// Scale-out benchmark (issue "Scale-out"): two instances on PostgreSQL + Redis against one
// instance on PostgreSQL, measured in the same run with the same clients (chat.bench.mjs's load
// generator, forked as workers: 2 × CLIENTS/2 connections):
//   1. latency: RATE (100) messages/s into one room of CLIENTS (500) clients; in the cluster the
//      clients are split between the instances and the sender is on the first, so half the
//      deliveries cross Redis. p99 send-to-delivery        — target ≤ 2 × the single instance's
//   2. fan-out: SENDERS (10) senders as fast as INFLIGHT (20) unechoed messages allow; delivered
//      messages/s at saturation                          — target ≥ 70 % of the single instance's
//   3. presence: a user connects on instance A PRESENCE (50) times; time until a watcher on B sees
//      "joined"                                           — target p99 ≤ 50 ms
// Every process (instances, Redis, PostgreSQL, load generators) shares this machine's cores: the
// cluster gains no CPU here, it only pays for the hop through Redis.
//
// Usage: npm run bench:cluster   (or node bench/cluster.bench.mjs after npm run build)
//   env: ROUNDS=3 DURATION=5 WARMUP=1 CLIENTS=500 SENDERS=10 INFLIGHT=20 RATE=100 USERS=50 PRESENCE=50
//        PG_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 PLAZA_MAIN=dist/plaza.mjs
import { execFileSync, fork } from 'node:child_process';
import WebSocket from 'ws';
import { json, median, startProcess, tempDir } from './lib.mjs';

const env = process.env;
const num = (k, d) => Number(env[k] ?? d);
const ROUNDS = num('ROUNDS', 3);
const DURATION = num('DURATION', 5);
const WARMUP = num('WARMUP', 1);
const CLIENTS = num('CLIENTS', 500);
const SENDERS = num('SENDERS', 10);
const INFLIGHT = num('INFLIGHT', 20);
const RATE = num('RATE', 100);
const USERS = num('USERS', 50);
const PRESENCE = num('PRESENCE', 50);
const PG_URL = env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAIN = env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
const WORKER = new URL('./chat.bench.mjs', import.meta.url).pathname;
const PASSWORD = 'bench-password-1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const psql = (q) => execFileSync('psql', [PG_URL, '-qX', '-c', q], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, PGOPTIONS: '--client-min-messages=warning' } });

function startWorker() {
  const child = fork(WORKER, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let id = 0;
  child.on('message', (m) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`worker: ${m.error}`));
  });
  return {
    call: (cmd, args = {}) => new Promise((resolve, reject) => {
      pending.set(++id, { resolve, reject });
      child.send({ id, cmd, ...args });
    }),
    stop: () => child.connected && child.disconnect(),
  };
}

/** One setup: `n` instances on a fresh schema (with Redis when n > 1), USERS users in one room. */
async function setup(name, n) {
  const schema = `bench_cluster_${name}_${process.pid}`;
  psql(`create schema ${schema}`);
  const dataDir = tempDir(`plaza-bench-${name}-`);
  const plazaEnv = {
    PLAZA_DATA_DIR: dataDir,
    PLAZA_PORT: '0',
    PLAZA_LOG_LEVEL: 'warn',
    PLAZA_DATABASE_URL: PG_URL,
    PLAZA_DATABASE_SCHEMA: schema,
    PLAZA_SECRET: 'bench-cluster-secret-0123456789abcdefghij',
    PLAZA_RATE_REGISTER_IP: '100000/1m',
    PLAZA_RATE_LOGIN_IP: '100000/1m',
    PLAZA_RATE_LOGIN_ACCOUNT: '100000/1m',
    PLAZA_CHAT_FRAMES_PER_10S: '1000000',
    PLAZA_MAX_CONNECTIONS: String(CLIENTS + 1000),
    PLAZA_MAX_CONNECTIONS_PER_IP: String(CLIENTS + 1000),
    PLAZA_CHAT_MAX_SOCKETS_PER_USER: String(Math.ceil(CLIENTS / USERS) + 20),
    ...(n > 1 ? { PLAZA_REDIS_URL: REDIS_URL } : {}),
  };
  const procs = [];
  for (let i = 0; i < n; i++) procs.push(await startProcess([MAIN, 'serve'], plazaEnv, /running at (\S+)/));
  const bases = procs.map((p) => p.match[1]);
  const tokens = [];
  for (let i = 0; i < USERS; i++) {
    await json(`${bases[0]}/api/auth/register`, 'POST', { username: `bench${i}`, password: PASSWORD });
    tokens.push((await json(`${bases[0]}/api/auth/login`, 'POST', { identifier: `bench${i}`, password: PASSWORD })).accessToken);
  }
  const auth = (i) => ({ authorization: `Bearer ${tokens[i]}` });
  const made = await json(`${bases[0]}/api/chat/rooms`, 'POST', { name: 'bench' }, auth(0));
  if (!made.room) throw new Error(`create room: ${JSON.stringify(made)}`);
  const room = made.room.id;
  for (let i = 1; i < USERS; i++) await json(`${bases[0]}/api/chat/rooms/${room}/join`, 'POST', {}, auth(i));
  return {
    name,
    bases,
    tokens,
    room,
    urls: bases.map((b) => `${b.replace(/^http/, 'ws')}/api/chat`),
    async close() {
      await Promise.all(procs.map((p) => p.stop()));
      psql(`drop schema ${schema} cascade`);
      execFileSync('rm', ['-rf', dataDir]);
    },
  };
}

async function latencyRound(workers, s) {
  await workers[0].call('rateStart', { group: s.name, index: 0, rate: RATE, room: s.room, tagPrefix: 'w0' });
  await sleep(WARMUP * 1000);
  await Promise.all(workers.map((w) => w.call('latBegin', { group: s.name })));
  await sleep(DURATION * 1000);
  const lat = await Promise.all(workers.map((w) => w.call('latEnd', { group: s.name })));
  await workers[0].call('rateStop', { group: s.name });
  await sleep(500);
  const all = lat.flatMap((l) => l.lat);
  return { n: all.length, p50: pct(all, 50), p99: pct(all, 99) };
}

async function fanoutRound(workers, s, counts) {
  const per = Math.ceil(SENDERS / workers.length);
  await Promise.all(workers.map((w, i) => w.call('satStart', { group: s.name, senders: Array.from({ length: per }, (_, k) => (k * 7) % counts[i]), inflight: INFLIGHT, room: s.room, tagPrefix: `w${i}` })));
  await sleep(WARMUP * 1000);
  const m0 = await Promise.all(workers.map((w) => w.call('mark', { group: s.name })));
  await sleep(DURATION * 1000);
  const m1 = await Promise.all(workers.map((w) => w.call('mark', { group: s.name })));
  await Promise.all(workers.map((w) => w.call('satStop', { group: s.name })));
  await sleep(500);
  return m0.reduce((n, m, i) => n + ((m1[i].delivered - m.delivered) / (m1[i].t - m.t)) * 1000, 0);
}

/** A watcher on the last instance; a user connects on the first PRESENCE times: time to "joined". */
async function presence(s) {
  const open = (url, token, onText) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      ws.on('message', (d) => {
        const t = d.toString();
        if (t.startsWith('{"type":"hello"')) resolve(ws);
        onText?.(t);
      });
      ws.on('error', reject);
    });
  let waiting;
  const watcher = await open(s.urls[s.urls.length - 1], s.tokens[1], (t) => {
    if (waiting && t.startsWith('{"type":"presence"') && t.includes('"joined"') && t.includes(`"name":"bench${USERS - 1}"`)) waiting();
  });
  const times = [];
  for (let i = 0; i < PRESENCE; i++) {
    const seen = new Promise((r) => (waiting = r));
    const t0 = performance.now();
    const ws = await open(s.urls[0], s.tokens[USERS - 1]);
    await seen;
    times.push(performance.now() - t0);
    const closed = new Promise((r) => ws.once('close', r));
    ws.close(1000);
    await closed;
    await sleep(100);
  }
  watcher.close(1000);
  return { p50: pct(times, 50), p99: pct(times, 99) };
}

const workers = [startWorker(), startWorker()];
const setups = [];
try {
  setups.push(await setup('single', 1), await setup('cluster', 2));
  const half = Math.ceil(CLIENTS / 2);
  const counts = [half, CLIENTS - half];
  for (const s of setups) {
    await Promise.all(workers.map((w, i) => w.call('open', { group: s.name, kind: 'plaza', url: s.urls[i % s.urls.length], tokens: s.tokens, count: counts[i], offset: i * half })));
  }
  await sleep(1500);
  const res = { single: { lat: [], fan: [] }, cluster: { lat: [], fan: [] } };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of setups) {
      const l = await latencyRound(workers, s);
      res[s.name].lat.push(l);
      const f = await fanoutRound(workers, s, counts);
      res[s.name].fan.push(f);
      console.log(`round ${round} ${s.name.padEnd(7)}: latency p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (${l.n} deliveries); fan-out ${f.toFixed(0)} deliveries/s`);
    }
  }
  for (const s of setups) await Promise.all(workers.map((w) => w.call('close', { group: s.name })));
  const p = await presence(setups[1]);
  const m = (name, k) => median(res[name].lat.map((x) => x[k]));
  const fan = (name) => median(res[name].fan);
  console.log(`\nScale-out on PostgreSQL + Redis, ${CLIENTS} clients in one room, medians of ${ROUNDS} rounds (all processes share ${'this machine'}'s cores):`);
  console.log(`  latency at ${RATE} msg/s: single p50 ${m('single', 'p50').toFixed(2)} / p99 ${m('single', 'p99').toFixed(2)} ms; two instances p50 ${m('cluster', 'p50').toFixed(2)} / p99 ${m('cluster', 'p99').toFixed(2)} ms → p99 ratio ${(m('cluster', 'p99') / m('single', 'p99')).toFixed(2)}× (target ≤ 2×)`);
  console.log(`  fan-out at saturation: single ${fan('single').toFixed(0)}, two instances ${fan('cluster').toFixed(0)} deliveries/s → ${((fan('cluster') / fan('single')) * 100).toFixed(0)} % (target ≥ 70 %)`);
  console.log(`  presence across instances (${PRESENCE} joins on A seen on B): p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms (target ≤ 50 ms)`);
} finally {
  for (const w of workers) w.stop();
  for (const s of setups) await s.close().catch(() => {});
}
