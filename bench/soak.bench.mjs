// Soak benchmark (issue "Soak"): one Plaza instance under a mixed load for MINUTES, printed per
// interval (a minute by default) so that slowdowns and memory growth show while they happen:
//   HTTP: WORKERS closed loops (each waits for its answer before the next request), each on its own
//         user, picking by weight: GET /api/users/me, GET /api/files (a page), GET a room's history
//         (a page), a small multipart upload (1–8 KiB), a login (argon2id; logged out again).
//   chat: CHATTERS WebSocket clients in one room, each sending CHAT_RATE messages/s; send → ack.
// Per interval: requests/s, p50/p99 per operation, errors, server RSS, heap used, event-loop delay
// (p99 of the interval, measured inside the server by bench/soak-probe.mjs), database size and rows.
// The ceiling here is the run itself: the last interval is compared with interval 2 (interval 1
// is warm-up), with the issue's targets.
//
// Modes:
//   (default)    data grows as it would: every upload stays, every message stays
//   --constant   data size held constant: each user keeps its last KEEP_FILES uploads (older ones
//                deleted through the API), the room its last KEEP_MESSAGES messages (older rows
//                deleted in the database every 10 s, as no API deletes messages), logins log out;
//                growth left in this mode is a leak, not data
//   --pg         PostgreSQL (PG_URL, default postgres://postgres@127.0.0.1:5432/test) in a fresh
//                schema, dropped afterwards
//   --heap-snapshots   writes a heap snapshot (node --heapsnapshot-signal) after interval 1 and at
//                the end, into the data directory (kept, path printed), to compare in DevTools'
//                Memory tab ("Comparison"); each snapshot pauses the server for a moment
//
// Usage: npm run bench:soak [-- --constant --pg --heap-snapshots]   (or node bench/soak.bench.mjs after npm run build)
//   env: MINUTES=30 INTERVAL_S=60 WORKERS=16 USERS=20 CHATTERS=10 CHAT_RATE=4 KEEP_FILES=20
//        KEEP_MESSAGES=2000 JSON_OUT=file.json PLAZA_MAIN=dist/plaza.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import WebSocket from 'ws';
import { json, startProcess, tempDir } from './lib.mjs';

const env = process.env;
const MINUTES = Number(env.MINUTES ?? 30);
const INTERVAL_MS = Number(env.INTERVAL_S ?? 60) * 1000;
const WORKERS = Number(env.WORKERS ?? 16);
const USERS = Math.max(Number(env.USERS ?? 20), WORKERS, Number(env.CHATTERS ?? 10));
const CHATTERS = Number(env.CHATTERS ?? 10);
const CHAT_RATE = Number(env.CHAT_RATE ?? 4);
const KEEP_FILES = Number(env.KEEP_FILES ?? 20);
const KEEP_MESSAGES = Number(env.KEEP_MESSAGES ?? 2000);
const CONSTANT = process.argv.includes('--constant');
const PG = process.argv.includes('--pg');
const SNAPSHOTS = process.argv.includes('--heap-snapshots');
const MAIN = env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
const PROBE = new URL('./soak-probe.mjs', import.meta.url).pathname;
const PASSWORD = 'soak-password-1';
const OPS = ['me', 'files', 'history', 'upload', 'delete', 'login', 'chat'];
/** Weights of the HTTP loop's operations (deletes follow uploads in --constant). */
const WEIGHTS = [['me', 35], ['files', 20], ['history', 20], ['upload', 20], ['login', 5]];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const mib = (b) => b / 1024 / 1024;

/** Latencies and errors per operation for the current interval. */
function createStats() {
  let lat = Object.fromEntries(OPS.map((o) => [o, []]));
  let errors = {};
  return {
    ok(op, ms) {
      lat[op].push(ms);
    },
    fail(op, what) {
      const k = `${op} ${what}`;
      errors[k] = (errors[k] ?? 0) + 1;
    },
    /** This interval's numbers; starts the next interval. */
    take() {
      const out = { lat, errors };
      lat = Object.fromEntries(OPS.map((o) => [o, []]));
      errors = {};
      return out;
    },
  };
}

/** The database as the bench sees it beside the server: size, row counts, and old rows to delete. */
async function openDatabase(dataDir, pgSchema) {
  if (!PG) {
    const file = path.join(dataDir, 'plaza.db');
    const db = new Database(file, { fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const size = (f) => (existsSync(f) ? statSync(f).size : 0);
    return {
      size: () => size(file) + size(`${file}-wal`),
      rows: () => db.prepare('select (select count(*) from files) as files, (select count(*) from chat_messages) as messages').get(),
      trim: (room, keep) => db.prepare('delete from chat_messages where room_id = ? and seq <= (select max(seq) from chat_messages where room_id = ?) - ?').run(room, room, keep),
      close: () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
  await client.connect();
  await client.query(`set search_path to ${pgSchema}`);
  return {
    size: async () =>
      Number((await client.query(`select coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0) as n from pg_tables where schemaname = $1`, [pgSchema])).rows[0].n),
    rows: async () => {
      const r = (await client.query('select (select count(*) from files) as files, (select count(*) from chat_messages) as messages')).rows[0];
      return { files: Number(r.files), messages: Number(r.messages) };
    },
    trim: (room, keep) =>
      client.query('delete from chat_messages where room_id = $1 and seq <= (select max(seq) from chat_messages where room_id = $1) - $2', [room, keep]),
    close: () => client.end(),
  };
}

/** Users, their tokens and one room everybody is in. */
async function setUp(base) {
  const admin = await json(`${base}/api/auth/login`, 'POST', { identifier: 'soakadmin', password: PASSWORD });
  const room = await json(`${base}/api/chat/rooms`, 'POST', { name: 'soak' }, { authorization: `Bearer ${admin.accessToken}` });
  if (!room.room) throw new Error(`create room: ${JSON.stringify(room)}`);
  const users = [];
  for (let i = 0; i < USERS; i++) {
    const username = `soak${i}`;
    const reg = await fetch(`${base}/api/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
    if (reg.status !== 201) throw new Error(`register ${username}: HTTP ${reg.status} ${await reg.text()}`);
    const login = await json(`${base}/api/auth/login`, 'POST', { identifier: username, password: PASSWORD });
    const auth = { authorization: `Bearer ${login.accessToken}` };
    const joined = await json(`${base}/api/chat/rooms/${room.room.id}/join`, 'POST', {}, auth);
    if (!joined.room) throw new Error(`join: ${JSON.stringify(joined)}`);
    users.push({ username, auth, uploads: [] });
  }
  return { room: room.room.id, users };
}

function pick() {
  const total = WEIGHTS.reduce((n, [, w]) => n + w, 0);
  let x = Math.random() * total;
  for (const [op, w] of WEIGHTS) if ((x -= w) < 0) return op;
  return WEIGHTS[0][0];
}

/** One request of operation `op` for `user`; resolves to its HTTP status. */
async function request(base, room, user, op, n) {
  const get = (p) => fetch(`${base}${p}`, { headers: user.auth });
  let res;
  if (op === 'me') res = await get('/api/users/me');
  else if (op === 'files') res = await get('/api/files?limit=50');
  else if (op === 'history') res = await get(`/api/chat/rooms/${room}/messages?limit=50`);
  else if (op === 'upload') {
    const form = new FormData();
    const size = 1024 + Math.floor(Math.random() * 7 * 1024);
    form.append('file', new Blob([crypto.getRandomValues(new Uint8Array(size))]), `soak-${user.username}-${n}.bin`);
    res = await fetch(`${base}/api/files`, { method: 'POST', headers: user.auth, body: form });
    if (res.status === 201) {
      const body = await res.json();
      user.uploads.push(...body.files.map((f) => f.id));
      return res.status;
    }
  } else if (op === 'delete') res = await fetch(`${base}/api/files/${user.uploads.shift()}`, { method: 'DELETE', headers: user.auth });
  else if (op === 'login') {
    res = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identifier: user.username, password: PASSWORD }) });
    if (res.status === 200 && CONSTANT) {
      const { accessToken } = await res.json();
      await fetch(`${base}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } }).then((r) => r.arrayBuffer());
      return res.status;
    }
  }
  await res.arrayBuffer();
  return res.status;
}

/** A closed loop on one user until `until`. */
async function httpLoop(base, room, user, stats, running) {
  let n = 0;
  while (running.on) {
    const op = CONSTANT && user.uploads.length > KEEP_FILES ? 'delete' : pick();
    const t0 = performance.now();
    try {
      const status = await request(base, room, user, op, n++);
      if (status >= 200 && status < 300) stats.ok(op, performance.now() - t0);
      else stats.fail(op, `HTTP ${status}`);
    } catch (err) {
      stats.fail(op, err.cause?.code ?? err.code ?? err.message);
      await sleep(100);
    }
  }
}

/** A chat client sending CHAT_RATE messages/s; each send's latency is its ack's arrival. */
function chatter(wsUrl, room, user, index, stats, running) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: user.auth, perMessageDeflate: false });
    const pending = new Map();
    let n = 0;
    let timer;
    ws.on('unexpected-response', (_q, res) => reject(new Error(`chat upgrade refused: HTTP ${res.statusCode}`)));
    ws.on('error', (err) => (timer ? stats.fail('chat', err.code ?? err.message) : reject(err)));
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'hello' && !timer) {
        timer = setInterval(() => {
          if (!running.on) return;
          const ref = `${index}.${n++}`;
          pending.set(ref, performance.now());
          ws.send(JSON.stringify({ type: 'send', room, body: `soak message ${ref}`, clientId: `soak-${ref}`, ref }));
        }, 1000 / CHAT_RATE);
        resolve({
          stop: async () => {
            clearInterval(timer);
            for (let i = 0; i < 100 && pending.size; i++) await sleep(50);
            ws.close();
            return pending.size;
          },
        });
      } else if (frame.type === 'ack' && pending.has(frame.ref)) {
        stats.ok('chat', performance.now() - pending.get(frame.ref));
        pending.delete(frame.ref);
      } else if (frame.type === 'error') stats.fail('chat', frame.code ?? 'error');
    });
    ws.on('close', (code) => running.on && stats.fail('chat', `closed ${code}`));
  });
}

/** The probe's lines written since the last call: last memory figures, worst event-loop delay. */
function probeReader(file) {
  let seen = 0;
  return () => {
    if (!existsSync(file)) return undefined;
    const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
    const fresh = lines.slice(seen).map((l) => JSON.parse(l));
    seen = lines.length;
    if (!fresh.length) return undefined;
    const last = fresh.at(-1);
    return { rss: last.rss, heapUsed: last.heapUsed, lagP99: Math.max(...fresh.map((p) => p.lagP99)), lagMax: Math.max(...fresh.map((p) => p.lagMax)) };
  };
}

/** One interval's row: per-operation counts and percentiles, with the server's figures. */
function summarize(index, seconds, taken, probe, db) {
  const ops = {};
  let requests = 0;
  const http = [];
  for (const op of OPS) {
    const sorted = taken.lat[op].sort((a, b) => a - b);
    ops[op] = { n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
    if (op !== 'chat') {
      requests += sorted.length;
      http.push(...sorted);
    }
  }
  http.sort((a, b) => a - b);
  return { interval: index, rps: requests / seconds, p99: quantile(http, 0.99), ops, errors: taken.errors, ...probe, ...db };
}

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const HEADER =
  'int   req/s  p99 |  me p50/p99 | files p50/p99 | history p50/p99 | upload p50/p99 | login p50/p99 | chat/s ack p99 | RSS MiB heap MiB lag p99 | db MiB   files messages';
function printRow(r, seconds) {
  const o = (k) => `${f1(r.ops[k].p50).padStart(5)}/${f1(r.ops[k].p99).padEnd(6)}`;
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ×${v}`).join(', ');
  console.log(
    `${String(r.interval).padStart(3)} ${r.rps.toFixed(0).padStart(7)} ${f1(r.p99).padStart(5)} | ${o('me')} | ${o('files')}   | ${o('history')}     | ${o('upload')}   | ${o('login')}  | ` +
      `${(r.ops.chat.n / seconds).toFixed(0).padStart(5)} ${f1(r.ops.chat.p99).padStart(6)}   | ${f1(mib(r.rss)).padStart(7)} ${f1(mib(r.heapUsed)).padStart(8)} ${f1(r.lagP99).padStart(7)} | ` +
      `${f1(mib(r.dbBytes)).padStart(6)} ${String(r.files).padStart(7)} ${String(r.messages).padStart(8)}${errs ? `   errors: ${errs}` : ''}`,
  );
}

/** Interval 2 against the last, with the issue's targets for this mode. */
function verdict(rows) {
  const ref = rows[1] ?? rows[0];
  const last = rows.at(-1);
  const pct = (a, b) => ((a / b - 1) * 100).toFixed(1);
  const thr = last.rps / ref.rps;
  const rss = last.rss / ref.rss - 1;
  const p99 = last.p99 / ref.p99;
  const lines = [`interval ${ref.interval} → ${last.interval}: throughput ${ref.rps.toFixed(0)} → ${last.rps.toFixed(0)} req/s (${(thr * 100).toFixed(1)} %), ` +
    `RSS ${f1(mib(ref.rss))} → ${f1(mib(last.rss))} MiB (${pct(last.rss, ref.rss)} %), p99 ${f1(ref.p99)} → ${f1(last.p99)} ms (${(p99 * 100).toFixed(0)} %)`];
  const check = (ok, what) => lines.push(`  ${what}  ${ok ? 'PASS' : 'FAIL'}`);
  if (CONSTANT) {
    check(Math.abs(thr - 1) <= 0.1, 'throughput within 10 % of interval 2 (target)');
    check(rss <= 0.1, 'RSS growth after interval 2 ≤ 10 % (target)');
    check(Math.abs(p99 - 1) <= 0.2, 'p99 within 20 % of interval 2 (target)');
  } else check(thr >= 0.8, 'throughput ≥ 80 % of interval 2 (target)');
  return lines;
}

async function main() {
  const dataDir = tempDir('plaza-soak-');
  const probeFile = path.join(dataDir, 'probe.jsonl');
  const pgSchema = `soak_${process.pid}`;
  const psql = (sql) => execFileSync('psql', [env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', '-q', '-c', sql], { stdio: 'pipe' });
  const plazaEnv = {
    PLAZA_DATA_DIR: dataDir,
    PLAZA_PORT: '0',
    PLAZA_LOG_LEVEL: env.PLAZA_LOG_LEVEL ?? 'warn',
    PLAZA_ADMIN_USERNAME: 'soakadmin',
    PLAZA_ADMIN_PASSWORD: PASSWORD,
    PLAZA_SOAK_PROBE_FILE: probeFile,
    ...Object.fromEntries(['LOGIN_IP', 'LOGIN_FAIL_IP', 'LOGIN_ACCOUNT_IP', 'LOGIN_ACCOUNT', 'REGISTER_IP'].map((k) => [`PLAZA_RATE_${k}`, '1000000/1m'])),
  };
  if (PG) {
    psql(`create schema ${pgSchema}`);
    Object.assign(plazaEnv, { PLAZA_DATABASE_URL: env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', PLAZA_DATABASE_SCHEMA: pgSchema });
  }
  const args = ['--import', PROBE, ...(SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2'] : []), MAIN, 'serve'];
  const plaza = await startProcess(args, plazaEnv, /running at (\S+)/, dataDir);
  const running = { on: true };
  let db;
  try {
    const base = plaza.match[1];
    const { room, users } = await setUp(base);
    db = await openDatabase(dataDir, pgSchema);
    const stats = createStats();
    const chatters = await Promise.all(users.slice(0, CHATTERS).map((u, i) => chatter(`${base.replace(/^http/, 'ws')}/api/chat`, room, u, i, stats, running)));
    const loops = users.slice(0, WORKERS).map((u) => httpLoop(base, room, u, stats, running));
    const trimmer = CONSTANT ? setInterval(() => Promise.resolve(db.trim(room, KEEP_MESSAGES)).catch((e) => stats.fail('trim', e.code ?? e.message)), 10_000) : undefined;
    const readProbe = probeReader(probeFile);
    console.log(`Soak: ${MINUTES} × ${INTERVAL_MS / 1000} s on ${PG ? 'PostgreSQL' : 'SQLite'}, ${CONSTANT ? 'data held constant' : 'data growing'}; ` +
      `${WORKERS} HTTP loops, ${CHATTERS} chat clients at ${CHAT_RATE}/s; server pid ${plaza.child.pid}, data ${dataDir}`);
    console.log(HEADER);
    const rows = [];
    let t0 = performance.now();
    for (let i = 1; i <= MINUTES; i++) {
      await sleep(t0 + INTERVAL_MS - performance.now());
      const seconds = (performance.now() - t0) / 1000;
      t0 = performance.now();
      const taken = stats.take();
      const probe = readProbe() ?? {};
      const counts = await db.rows();
      const row = summarize(i, seconds, taken, probe, { dbBytes: await db.size(), ...counts });
      rows.push(row);
      printRow(row, seconds);
      if (SNAPSHOTS && (i === 1 || i === MINUTES)) process.kill(plaza.child.pid, 'SIGUSR2');
    }
    running.on = false;
    clearInterval(trimmer);
    const unacked = (await Promise.all(chatters.map((c) => c.stop()))).reduce((a, b) => a + b, 0);
    await Promise.all(loops);
    console.log(verdict(rows).join('\n'));
    console.log(`chat: ${unacked} messages without an ack at the end (target 0)`);
    if (SNAPSHOTS) console.log(`heap snapshots: ${dataDir}/*.heapsnapshot (compare in Chrome DevTools → Memory)`);
    if (env.JSON_OUT) writeFileSync(env.JSON_OUT, JSON.stringify({ constant: CONSTANT, pg: PG, rows }, null, 2));
  } finally {
    running.on = false;
    await db?.close();
    await plaza.stop();
    if (PG) psql(`drop schema ${pgSchema} cascade`);
    if (!SNAPSHOTS) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
