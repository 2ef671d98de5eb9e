// Chat benchmarks (issue "Chat", SPEC §11), against a bare `ws` broadcast server (bare-ws.mjs)
// measured in the same run with the same client harness:
//   1. fan-out: one room of CLIENTS (500) WebSocket clients, SENDERS of them sending as fast as
//      they may with at most INFLIGHT of their own messages not yet echoed back; delivered
//      messages/s at saturation              — target ≥ 60 % of bare
//   2. latency: RATE (100) messages/s into the same room (50,000 deliveries/s), send timestamp in
//      the body, receivers compute send-to-delivery; p50/p99/max   — target p99 ≤ 20 ms
//   3. IDLE (5,000) idle authenticated connections: server RSS      — target ≤ 300 MiB
//   4. replay of REPLAY (10,000) missed messages to a fresh connection (resume after 0)
//                                                                    — target ≤ 1 s
// The load generator runs in child processes (2 × 250 clients for 1 and 2; 4 for 3), so each
// server process is measured alone; but clients and servers share the machine's cores, the same
// way for both servers. Rounds alternate bare / Plaza so machine noise hits both alike.
//
// Usage: npm run bench:chat [-- --pg --cpu-prof]   (or node bench/chat.bench.mjs after npm run build)
//   env: ROUNDS=3 DURATION=5 WARMUP=1 CLIENTS=500 SENDERS=10 INFLIGHT=20 RATE=100 IDLE=5000
//        REPLAY=10000 USERS=50 ONLY=fanout,latency,idle,replay  PG_URL=postgres://…  PLAZA_MAIN=dist/plaza.mjs
//   --pg        runs Plaza on PostgreSQL (PG_URL, default postgres://postgres@127.0.0.1:5432/test)
//               in a fresh schema, dropped afterwards
//   --cpu-prof  profiles both servers (node --cpu-prof) and prints their top functions (self time)
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { cpuOf, json, machineBusy, median, startProcess, tempDir, topFunctions } from './lib.mjs';

const SELF = new URL(import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BODY = Buffer.from('"body":"');
const T_MESSAGE = 0x6d; // {"type":"message"…  (Plaza)
const T_SEND = 0x73; //    {"type":"send"…     (bare: the frame comes back as sent)
const T_HELLO = 0x68;
const T_ERROR = 0x65;

// ---------------------------------------------------------------------------------------------
// Load-generator child: holds groups of connections, driven by the parent over IPC.

function runWorker() {
  const groups = new Map();

  function bodyOf(data) {
    const i = data.indexOf(BODY);
    if (i < 0) return '';
    const start = i + BODY.length;
    return data.toString('latin1', start, data.indexOf(0x22, start));
  }

  function sendFrame(room, tag) {
    return `{"type":"send","room":${room},"body":"${now().toFixed(3)}~${tag}"}`;
  }

  function onFrame(g, conn, data) {
    const t = data[9];
    if (t === T_MESSAGE || t === T_SEND) {
      g.delivered++;
      if (g.lat === null && conn.sender === null) return;
      const body = bodyOf(data);
      if (g.lat !== null) {
        const ts = Number.parseFloat(body);
        const l = now() - ts;
        g.lat.push(l);
        const m = g.perMessage.get(ts);
        if (m === undefined) g.perMessage.set(ts, [l, l]);
        else if (l > m[1]) m[1] = l;
      }
      const s = conn.sender;
      if (s !== null && body.endsWith(s.tag)) {
        s.echoed++;
        pump(s);
      }
    } else if (t === T_ERROR) {
      g.errors++;
      g.firstError ??= data.toString();
    }
  }

  function pump(s) {
    while (s.running && s.sent - s.echoed < s.inflight) {
      s.sent++;
      s.conn.ws.send(sendFrame(s.room, s.tag));
    }
  }

  function connect(g, url, headers) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, skipUTF8Validation: true });
      const conn = { ws, sender: null };
      let ready = false;
      let before = 0;
      const timer = setTimeout(() => fail(new Error('connection not ready within 60 s')), 60_000);
      function fail(err) {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        ws.terminate();
        reject(err);
      }
      function ok() {
        ready = true;
        clearTimeout(timer);
        resolve(conn);
      }
      ws.on('open', () => {
        if (g.kind === 'bare') ok();
      });
      ws.on('message', (data) => {
        if (ready) return onFrame(g, conn, data);
        if (data[9] === T_HELLO) {
          if (before > 0) g.framesBeforeHello += before;
          ok();
        } else if (data[9] === T_ERROR) fail(new Error(`error frame before hello: ${data}`));
        else before++;
      });
      ws.on('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.on('error', (err) => {
        if (!ready) fail(err);
        else g.socketErrors++;
      });
      ws.on('close', (code) => {
        if (!ready) fail(new Error(`closed (${code}) before ready`));
        else if (!g.closing) {
          g.unexpectedCloses++;
          g.firstClose ??= code;
        }
      });
    });
  }

  const handlers = {
    async open({ group, kind, url, tokens, count, offset = 0, concurrency = 50 }) {
      const g = {
        kind,
        conns: new Array(count),
        delivered: 0,
        errors: 0,
        firstError: null,
        socketErrors: 0,
        unexpectedCloses: 0,
        firstClose: null,
        framesBeforeHello: 0,
        closing: false,
        lat: null,
        perMessage: null,
        senders: [],
        rate: null,
      };
      groups.set(group, g);
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(concurrency, count) }, async () => {
          while (next < count) {
            const i = next++;
            const headers = tokens ? { authorization: `Bearer ${tokens[(offset + i) % tokens.length]}` } : {};
            g.conns[i] = await connect(g, url, headers);
          }
        }),
      );
      return { opened: count, ms: performance.now() - t0, framesBeforeHello: g.framesBeforeHello };
    },

    async close({ group }) {
      const g = groups.get(group);
      if (!g) return {};
      g.closing = true;
      for (const s of g.senders) s.running = false;
      if (g.rate) clearTimeout(g.rate.timer);
      await Promise.all(
        g.conns.map(
          (c) =>
            new Promise((resolve) => {
              if (!c || c.ws.readyState === WebSocket.CLOSED) return resolve();
              const t = setTimeout(() => c.ws.terminate(), 5000);
              c.ws.once('close', () => {
                clearTimeout(t);
                resolve();
              });
              c.ws.close(1000);
            }),
        ),
      );
      groups.delete(group);
      return {};
    },

    /** Counters of a group, with this process's clock. */
    async mark({ group }) {
      const g = groups.get(group);
      return {
        delivered: g.delivered,
        t: performance.now(),
        errors: g.errors,
        firstError: g.firstError,
        socketErrors: g.socketErrors,
        unexpectedCloses: g.unexpectedCloses,
        firstClose: g.firstClose,
      };
    },

    async satStart({ group, senders, inflight, room, tagPrefix }) {
      const g = groups.get(group);
      g.senders = senders.map((index) => {
        const s = { conn: g.conns[index], tag: `~${tagPrefix}s${index}`, room, inflight, sent: 0, echoed: 0, running: true };
        g.conns[index].sender = s;
        return s;
      });
      for (const s of g.senders) pump(s);
      return {};
    },

    /** Stops the senders and waits until each has its messages back. */
    async satStop({ group }) {
      const g = groups.get(group);
      for (const s of g.senders) s.running = false;
      const end = performance.now() + 20_000;
      const outstanding = () => g.senders.reduce((n, s) => n + (s.sent - s.echoed), 0);
      while (outstanding() > 0 && performance.now() < end) await sleep(10);
      const r = { sent: g.senders.reduce((n, s) => n + s.sent, 0), undrained: outstanding() };
      for (const s of g.senders) s.conn.sender = null;
      g.senders = [];
      return r;
    },

    /** One connection sends `rate` messages/s, paced on the clock (late ticks catch up). */
    async rateStart({ group, index, rate, room, tagPrefix }) {
      const g = groups.get(group);
      const conn = g.conns[index];
      const interval = 1000 / rate;
      const r = { sent: 0, timer: null };
      g.rate = r;
      let next = performance.now();
      const tick = () => {
        const t = performance.now();
        while (next <= t) {
          conn.ws.send(sendFrame(room, `~${tagPrefix}r`));
          r.sent++;
          next += interval;
        }
        r.timer = setTimeout(tick, Math.max(0, next - t));
      };
      tick();
      return {};
    },

    async rateStop({ group }) {
      const g = groups.get(group);
      clearTimeout(g.rate.timer);
      const sent = g.rate.sent;
      g.rate = null;
      return { sent };
    },

    async latBegin({ group }) {
      const g = groups.get(group);
      g.lat = [];
      g.perMessage = new Map();
      return { delivered: g.delivered };
    },

    async latEnd({ group }) {
      const g = groups.get(group);
      const lat = g.lat.map((x) => Math.round(x * 100) / 100);
      // Per message (keyed by its send time): the first and the last delivery in this process.
      const perMessage = [...g.perMessage];
      g.lat = null;
      g.perMessage = null;
      return { lat, perMessage, delivered: g.delivered };
    },
  };

  process.on('message', async (msg) => {
    try {
      process.send({ id: msg.id, ok: true, result: await handlers[msg.cmd](msg) });
    } catch (err) {
      process.send({ id: msg.id, ok: false, error: String(err?.stack ?? err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The parent: servers, setup, the four measurements, the summary.

function startWorker() {
  const child = fork(SELF, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (m) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`worker: ${m.error}`));
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`worker exited (${code})`));
    pending.clear();
  });
  return {
    child,
    call(cmd, args = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, ...args });
      });
    },
    stop() {
      if (child.connected) child.disconnect();
    },
  };
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const mib = (b) => (b / 1024 / 1024).toFixed(1);

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs `fn` over items with at most `n` at a time. */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** Opens a socket from this process and collects its frames (used by the replay measurement). */
function openSocket(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    const s = { ws, onFrame: null };
    ws.on('message', (data) => {
      const text = data.toString();
      if (s.onFrame) s.onFrame(text);
      if (data[9] === T_HELLO) resolve(s);
    });
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

async function main() {
  const env = process.env;
  const ROUNDS = Number(env.ROUNDS ?? 3);
  const DURATION = Number(env.DURATION ?? 5);
  const WARMUP = Number(env.WARMUP ?? 1);
  const CLIENTS = Number(env.CLIENTS ?? 500);
  const SENDERS = Number(env.SENDERS ?? 10);
  const INFLIGHT = Number(env.INFLIGHT ?? 20);
  const RATE = Number(env.RATE ?? 100);
  const IDLE = Number(env.IDLE ?? 5000);
  const REPLAY = Number(env.REPLAY ?? 10_000);
  const USERS = Number(env.USERS ?? 50);
  const ONLY = new Set((env.ONLY ?? 'fanout,latency,idle,replay').split(','));
  const PG = process.argv.includes('--pg');
  const PROFILE = process.argv.includes('--cpu-prof');
  // PLAZA_MAIN: another build to measure (comparing a change against dist/).
  const MAIN = env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
  const PASSWORD = 'bench-password-1';

  const ulimit = execFileSync('bash', ['-c', 'ulimit -n']).toString().trim();
  if (ONLY.has('idle') && ulimit !== 'unlimited' && Number(ulimit) < IDLE + 1000) {
    console.warn(`ulimit -n is ${ulimit}: too low for ${IDLE} connections; the idle measurement may fail`);
  }

  const dataDir = tempDir();
  const plazaEnv = {
    PLAZA_DATA_DIR: dataDir,
    PLAZA_PORT: '0',
    PLAZA_LOG_LEVEL: env.PLAZA_LOG_LEVEL ?? 'warn',
    PLAZA_RATE_REGISTER_IP: '100000/1m',
    PLAZA_RATE_LOGIN_IP: '100000/1m',
    PLAZA_RATE_LOGIN_ACCOUNT: '100000/1m',
    PLAZA_CHAT_FRAMES_PER_10S: '1000000',
    // Every client comes from 127.0.0.1: room for all of them under the connection caps.
    PLAZA_MAX_CONNECTIONS: String(IDLE + CLIENTS + 1000),
    PLAZA_MAX_CONNECTIONS_PER_IP: String(IDLE + CLIENTS + 1000),
    // IDLE sockets are shared among USERS accounts: room for all of them under the per-user cap.
    PLAZA_CHAT_MAX_SOCKETS_PER_USER: String(Math.ceil((IDLE + CLIENTS) / USERS) + 10),
    // Measure the other durability setting with PLAZA_SQLITE_SYNCHRONOUS=normal.
    ...(env.PLAZA_SQLITE_SYNCHRONOUS ? { PLAZA_SQLITE_SYNCHRONOUS: env.PLAZA_SQLITE_SYNCHRONOUS } : {}),
  };
  const pgUrl = env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgSchema = `bench_chat_${process.pid}`;
  const psql = (q) =>
    execFileSync('psql', [pgUrl, '-qX', '-v', 'ON_ERROR_STOP=1', '-c', q], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, PGOPTIONS: '--client-min-messages=warning' },
    });
  if (PG) {
    psql(`create schema ${pgSchema}`);
    plazaEnv.PLAZA_DATABASE_URL = pgUrl;
    plazaEnv.PLAZA_DATABASE_SCHEMA = pgSchema;
  }
  const profDir = path.join(dataDir, 'cpu-prof');
  const plazaArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, 'plaza')}`, MAIN, 'serve'] : [MAIN, 'serve'];
  if (PROFILE) for (const d of ['plaza', 'bare']) mkdirSync(path.join(profDir, d), { recursive: true });

  let bare;
  let plaza;
  let workers = [];
  const results = { other: [] };
  const notes = [];

  try {
    const bareMain = new URL('./bare-ws.mjs', import.meta.url).pathname;
    const bareArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, 'bare')}`, bareMain] : [bareMain];
    bare = await startProcess(bareArgs, {}, /bare-ws listening on (\d+)/);
    plaza = await startProcess(plazaArgs, plazaEnv, /running at (\S+)/);
    const base = plaza.match[1];
    const bareUrl = `ws://127.0.0.1:${bare.match[1]}/`;
    const plazaUrl = `${base.replace(/^http/, 'ws')}/api/chat`;
    workers = Array.from({ length: 4 }, startWorker);

    // Users: USERS accounts, each holding several connections (one user may hold many).
    const setup0 = performance.now();
    const tokens = await pool(
      Array.from({ length: USERS }, (_, i) => `bench${i}`),
      8,
      async (username) => {
        const reg = await fetch(`${base}/api/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: PASSWORD }),
        });
        if (reg.status !== 201) throw new Error(`register ${username}: HTTP ${reg.status} ${await reg.text()}`);
        const login = await json(`${base}/api/auth/login`, 'POST', { identifier: username, password: PASSWORD });
        if (!login.accessToken) throw new Error(`login ${username}: ${JSON.stringify(login)}`);
        return login.accessToken;
      },
    );
    const authOf = (i) => ({ authorization: `Bearer ${tokens[i]}` });
    const createRoom = async (name) => {
      const r = await json(`${base}/api/chat/rooms`, 'POST', { name }, authOf(0));
      if (!r.room) throw new Error(`create room: ${JSON.stringify(r)}`);
      return r.room.id;
    };
    const room = await createRoom('bench');
    await pool(tokens.slice(1), 8, async (_, i) => {
      const r = await json(`${base}/api/chat/rooms/${room}/join`, 'POST', {}, authOf(i + 1));
      if (!r.room) throw new Error(`join: ${JSON.stringify(r)}`);
    });
    const replayRoom = ONLY.has('replay') ? await createRoom('replay') : 0;
    console.log(`setup: ${USERS} users registered and logged in, room ${room} joined, in ${((performance.now() - setup0) / 1000).toFixed(1)} s`);

    // ---- 3. idle connections: RSS (first, on a server that has not carried load yet) ------------
    if (ONLY.has('idle')) {
      const per = Math.ceil(IDLE / workers.length);
      const openIdle = async (kind, url, toks) => {
        const t0 = performance.now();
        const r = await Promise.all(
          workers.map((w, i) =>
            w.call('open', { group: 'idle', kind, url, tokens: toks, count: Math.min(per, IDLE - i * per), offset: i * per, concurrency: 50 }),
          ),
        );
        return { ms: performance.now() - t0, framesBeforeHello: r.reduce((n, x) => n + (x.framesBeforeHello ?? 0), 0) };
      };
      const closeIdle = () => Promise.all(workers.map((w) => w.call('close', { group: 'idle' })));

      const bareBefore = rssOf(bare.child.pid);
      await openIdle('bare', bareUrl, null);
      await sleep(2000);
      const bareAfter = rssOf(bare.child.pid);
      await closeIdle();

      await sleep(500);
      const before = rssOf(plaza.child.pid);
      const opened = await openIdle('plaza', plazaUrl, tokens);
      await sleep(2000);
      const after = rssOf(plaza.child.pid);
      const marks = await Promise.all(workers.map((w) => w.call('mark', { group: 'idle' })));
      const lost = marks.reduce((n, m) => n + m.unexpectedCloses, 0);
      if (lost) notes.push(`idle: ${lost} Plaza connections closed by the server while idle (first code ${marks.find((m) => m.firstClose)?.firstClose})`);
      if (opened.framesBeforeHello) notes.push(`idle: ${opened.framesBeforeHello} frames arrived before "hello" on new Plaza connections`);
      await closeIdle();
      results.idle = { before, after, bareBefore, bareAfter, openMs: opened.ms };
      console.log(`idle: Plaza RSS ${mib(before)} → ${mib(after)} MiB with ${IDLE} connections (opened in ${(opened.ms / 1000).toFixed(1)} s); bare ${mib(bareBefore)} → ${mib(bareAfter)} MiB`);
      await sleep(1000);
    }

    // ---- 1 + 2. one room of CLIENTS clients, on workers 0 and 1 ---------------------------------
    if (ONLY.has('fanout') || ONLY.has('latency')) {
      const fan = workers.slice(0, 2);
      const half = Math.ceil(CLIENTS / fan.length);
      const counts = fan.map((_, i) => Math.min(half, CLIENTS - i * half));
      for (const [kind, url] of [
        ['bare', bareUrl],
        ['plaza', plazaUrl],
      ]) {
        const r = await Promise.all(
          fan.map((w, i) => w.call('open', { group: kind, kind, url, tokens: kind === 'plaza' ? tokens : null, count: counts[i], offset: i * half })),
        );
        const fb = r.reduce((n, x) => n + (x.framesBeforeHello ?? 0), 0);
        if (fb) notes.push(`fan-out: ${fb} frames arrived before "hello" on new Plaza connections`);
      }
      await sleep(1000); // presence announcements settle
      const servers = { bare: { pid: bare.child.pid, room: 0 }, plaza: { pid: plaza.child.pid, room } };
      const checkHealth = async (kind) => {
        const marks = await Promise.all(fan.map((w) => w.call('mark', { group: kind })));
        for (const m of marks) {
          if (m.errors) throw new Error(`${kind}: ${m.errors} error frames, first: ${m.firstError}`);
          if (m.unexpectedCloses) throw new Error(`${kind}: ${m.unexpectedCloses} connections closed by the server (code ${m.firstClose})`);
        }
        return marks;
      };

      if (ONLY.has('fanout')) {
        results.fanout = { bare: [], plaza: [], cpu: { bare: [], plaza: [] } };
        const perWorker = fan.map((_, i) => Math.floor(SENDERS / fan.length) + (i < SENDERS % fan.length ? 1 : 0));
        // Senders are spread over each worker's connections, each a different user.
        const senderIdx = (n, count, w) => Array.from({ length: n }, (_, k) => (Math.floor((k * count) / n) + k + w * n) % count);
        for (let round = 0; round < ROUNDS; round++) {
          for (const kind of ['bare', 'plaza']) {
            await Promise.all(
              fan.map((w, i) =>
                w.call('satStart', { group: kind, senders: senderIdx(perWorker[i], counts[i], i), inflight: INFLIGHT, room: servers[kind].room, tagPrefix: `w${i}` }),
              ),
            );
            await sleep(WARMUP * 1000);
            const cpu0 = cpuSnapshot(servers[kind].pid, fan);
            const m0 = await checkHealth(kind);
            await sleep(DURATION * 1000);
            const m1 = await checkHealth(kind);
            const cpu = cpuShare(cpu0, cpuSnapshot(servers[kind].pid, fan));
            const rate = m0.reduce((n, m, i) => n + ((m1[i].delivered - m.delivered) / (m1[i].t - m.t)) * 1000, 0);
            const stop = await Promise.all(fan.map((w) => w.call('satStop', { group: kind })));
            const undrained = stop.reduce((n, s) => n + s.undrained, 0);
            if (undrained) notes.push(`fan-out ${kind} round ${round + 1}: ${undrained} messages never came back to their sender`);
            results.fanout[kind].push(rate);
            results.fanout.cpu[kind].push(cpu.server);
            results.other.push(cpu.other);
            console.log(`fan-out round ${round + 1} ${kind.padEnd(5)}: ${rate.toFixed(0)} deliveries/s (${(rate / CLIENTS).toFixed(0)} messages/s); ${cpuText(cpu)}`);
            await sleep(500);
          }
        }
      }

      if (ONLY.has('latency')) {
        results.latency = { bare: [], plaza: [] };
        for (let round = 0; round < ROUNDS; round++) {
          for (const kind of ['bare', 'plaza']) {
            await checkHealth(kind);
            const d0 = await Promise.all(fan.map((w) => w.call('mark', { group: kind })));
            await fan[0].call('rateStart', { group: kind, index: 0, rate: RATE, room: servers[kind].room, tagPrefix: 'w0' });
            await sleep(WARMUP * 1000);
            await Promise.all(fan.map((w) => w.call('latBegin', { group: kind })));
            const cpu0 = cpuSnapshot(servers[kind].pid, fan);
            await sleep(DURATION * 1000);
            const cpu = cpuShare(cpu0, cpuSnapshot(servers[kind].pid, fan));
            results.other.push(cpu.other);
            const lat = await Promise.all(fan.map((w) => w.call('latEnd', { group: kind })));
            const { sent } = await fan[0].call('rateStop', { group: kind });
            let delivered = 0;
            for (const end = performance.now() + 5000; performance.now() < end; ) {
              await sleep(100);
              const d1 = await checkHealth(kind);
              delivered = d1.reduce((n, m, i) => n + m.delivered - d0[i].delivered, 0);
              if (delivered >= sent * CLIENTS) break;
            }
            if (delivered !== sent * CLIENTS) notes.push(`latency ${kind} round ${round + 1}: ${delivered} deliveries for ${sent} messages × ${CLIENTS} clients`);
            const all = Float64Array.from(lat.flatMap((l) => l.lat)).sort();
            // Time to a message's first delivery (the server's work before fan-out, and the
            // sender's) and to its last (plus the fan-out to every client and the clients' queues).
            const byMessage = new Map();
            for (const l of lat) {
              for (const [ts, [lo, hi]] of l.perMessage) {
                const m = byMessage.get(ts);
                if (!m) byMessage.set(ts, [lo, hi]);
                else byMessage.set(ts, [Math.min(m[0], lo), Math.max(m[1], hi)]);
              }
            }
            const first = Float64Array.from([...byMessage.values()].map((m) => m[0])).sort();
            const last = Float64Array.from([...byMessage.values()].map((m) => m[1])).sort();
            const r = {
              n: all.length,
              p50: percentile(all, 50),
              p99: percentile(all, 99),
              max: all[all.length - 1],
              firstP50: percentile(first, 50),
              firstP99: percentile(first, 99),
              lastP50: percentile(last, 50),
              lastP99: percentile(last, 99),
              cpu,
            };
            results.latency[kind].push(r);
            console.log(
              `latency round ${round + 1} ${kind.padEnd(5)}: ${cpuText(cpu)}; ${r.n} deliveries, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms;` +
                ` per message: first delivery p50 ${r.firstP50.toFixed(2)} / p99 ${r.firstP99.toFixed(2)} ms, last p50 ${r.lastP50.toFixed(2)} / p99 ${r.lastP99.toFixed(2)} ms`,
            );
            await sleep(300);
          }
        }
      }
      await Promise.all(fan.flatMap((w) => [w.call('close', { group: 'bare' }), w.call('close', { group: 'plaza' })]));
      await sleep(500);
    }

    // ---- 4. replay of REPLAY missed messages ---------------------------------------------------
    if (ONLY.has('replay')) {
      // Fill the room from one connection, at most 200 sends waiting for their acks.
      const writer = await openSocket(plazaUrl, tokens[0]);
      const t0 = performance.now();
      await new Promise((resolve, reject) => {
        let sent = 0;
        let acked = 0;
        const more = () => {
          while (sent < REPLAY && sent - acked < 200) {
            sent++;
            writer.ws.send(`{"type":"send","room":${replayRoom},"body":"replay message ${sent}","ref":"${sent}"}`);
          }
        };
        writer.onFrame = (text) => {
          if (text.startsWith('{"type":"ack"')) {
            acked++;
            if (acked === REPLAY) resolve();
            else more();
          } else if (text.startsWith('{"type":"error"')) reject(new Error(text));
        };
        more();
      });
      const fillMs = performance.now() - t0;
      writer.ws.close(1000);

      const runs = [];
      for (let i = 0; i < Math.max(3, ROUNDS); i++) {
        const s = await openSocket(plazaUrl, tokens[0]);
        const seqs = [];
        const done = new Promise((resolve, reject) => {
          s.onFrame = (text) => {
            if (text.startsWith('{"type":"message"')) {
              const m = JSON.parse(text);
              if (m.room === replayRoom) seqs.push(m.seq);
            } else if (text.startsWith('{"type":"resumed"')) resolve(JSON.parse(text));
            else if (text.startsWith('{"type":"error"')) reject(new Error(text));
          };
        });
        const r0 = performance.now();
        s.ws.send(JSON.stringify({ type: 'resume', rooms: [{ room: replayRoom, after: 0 }], ref: 'r' }));
        const resumed = await done;
        const ms = performance.now() - r0;
        const inOrder = seqs.length === REPLAY && seqs.every((q, k) => q === k + 1);
        runs.push({ ms, received: seqs.length, inOrder, replayed: resumed.rooms?.[0]?.replayed });
        console.log(`replay run ${i + 1}: ${seqs.length} messages in ${ms.toFixed(0)} ms, ${inOrder ? 'seq 1..' + REPLAY + ' exactly once, in order' : 'NOT in order / incomplete'}`);
        s.ws.close(1000);
      }
      results.replay = { fillMs, runs };
    }
  } finally {
    for (const w of workers) w.stop();
    await plaza?.stop();
    await bare?.stop();
    if (PG) {
      try {
        psql(`drop schema ${pgSchema} cascade`);
      } catch {
        notes.push(`could not drop schema ${pgSchema}`);
      }
    }
  }

  // ---- summary ----------------------------------------------------------------------------------
  const fmt = (n, d = 0) => n.toFixed(d);
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  const out = [];
  out.push('');
  out.push(`Chat benchmark — Plaza on ${PG ? 'PostgreSQL' : 'SQLite'}; medians of ${ROUNDS} rounds (${WARMUP} s warm-up + ${DURATION} s each); ${CLIENTS} clients in 2 processes (${USERS} users); ${availableParallelism()} cores shared by the server and the clients; ulimit -n ${ulimit}`);
  if (results.fanout) {
    const b = median(results.fanout.bare);
    const p = median(results.fanout.plaza);
    out.push(`  1. fan-out at saturation (${SENDERS} senders, ≤ ${INFLIGHT} in flight each)`);
    out.push(`     bare ws broadcast     ${fmt(b).padStart(8)} deliveries/s  (${fmt(b / CLIENTS)} msg/s)   rounds: ${results.fanout.bare.map((x) => fmt(x)).join(', ')}   server CPU ${fmt(median(results.fanout.cpu.bare) * 100)} %`);
    out.push(`     Plaza (persisted)     ${fmt(p).padStart(8)} deliveries/s  (${fmt(p / CLIENTS)} msg/s)   rounds: ${results.fanout.plaza.map((x) => fmt(x)).join(', ')}   server CPU ${fmt(median(results.fanout.cpu.plaza) * 100)} %`);
    out.push(`     ratio                 ${fmt((p / b) * 100, 1).padStart(8)} %   (target ≥ 60 %)  ${verdict(p / b >= 0.6)}`);
  }
  if (results.latency) {
    const row = (rs) => `p50 ${fmt(median(rs.map((r) => r.p50)), 2)} ms   p99 ${fmt(median(rs.map((r) => r.p99)), 2)} ms   max ${fmt(median(rs.map((r) => r.max)), 1)} ms   (p99 rounds: ${rs.map((r) => fmt(r.p99, 1)).join(', ')}; worst max ${fmt(Math.max(...rs.map((r) => r.max)), 1)} ms)`;
    const p99 = median(results.latency.plaza.map((r) => r.p99));
    out.push(`  2. send-to-delivery latency at ${RATE} msg/s (${RATE * CLIENTS} deliveries/s)`);
    out.push(`     bare ws broadcast     ${row(results.latency.bare)}`);
    out.push(`     Plaza (persisted)     ${row(results.latency.plaza)}`);
    const spread = (rs) => `first delivery of each message p50 ${fmt(median(rs.map((r) => r.firstP50)), 2)} / p99 ${fmt(median(rs.map((r) => r.firstP99)), 2)} ms, last p50 ${fmt(median(rs.map((r) => r.lastP50)), 2)} / p99 ${fmt(median(rs.map((r) => r.lastP99)), 2)} ms`;
    out.push(`       bare  per message:  ${spread(results.latency.bare)}`);
    out.push(`       Plaza per message:  ${spread(results.latency.plaza)}`);
    out.push(`     Plaza p99             ${fmt(p99, 2).padStart(8)} ms  (target ≤ 20 ms)  ${verdict(p99 <= 20)}`);
  }
  if (results.idle) {
    const { before, after, bareBefore, bareAfter } = results.idle;
    out.push(`  3. ${IDLE} idle authenticated connections`);
    out.push(`     bare ws               RSS ${mib(bareBefore)} → ${mib(bareAfter)} MiB   (+${fmt(((bareAfter - bareBefore) / IDLE / 1024), 1)} KiB per connection)`);
    out.push(`     Plaza                 RSS ${mib(before)} → ${mib(after)} MiB   (+${fmt(((after - before) / IDLE / 1024), 1)} KiB per connection)   (target ≤ 300 MiB)  ${verdict(after <= 300 * 1024 * 1024)}`);
  }
  if (results.replay) {
    const { fillMs, runs } = results.replay;
    const ms = median(runs.map((r) => r.ms));
    const ok = runs.every((r) => r.inOrder);
    out.push(`  4. replay of ${REPLAY} missed messages (resume after 0, fresh connection)`);
    out.push(`     filling the room      ${fmt(fillMs)} ms   (${fmt((REPLAY / fillMs) * 1000)} persisted messages/s from one connection)`);
    out.push(`     replay                ${fmt(ms).padStart(8)} ms   runs: ${runs.map((r) => fmt(r.ms)).join(', ')}   ${ok ? 'all in order, exactly once' : 'ORDER/COUNT WRONG'}   (target ≤ 1000 ms)  ${verdict(ms <= 1000 && ok)}`);
  }
  if (results.other.length) {
    const o = results.other;
    out.push(`  noise: other processes used ${(median(o) * 100).toFixed(0)} % of a core (median over measurement windows; max ${(Math.max(...o) * 100).toFixed(0)} %)${PG ? ', PostgreSQL included' : ''}`);
  }
  for (const n of notes) out.push(`  note: ${n}`);
  console.log(out.join('\n'));
  if (PROFILE) {
    console.log(`\nPlaza server CPU profile (self time; kept in ${profDir})\n${topFunctions(path.join(profDir, 'plaza'))}`);
    console.log(`\nbare ws server CPU profile (self time)\n${topFunctions(path.join(profDir, 'bare'), 12)}`);
  }
  else rmSync(dataDir, { recursive: true, force: true });
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSnapshot(serverPid, workers) {
  return {
    t: performance.now(),
    server: cpuOf(serverPid),
    clients: workers.reduce((n, w) => n + cpuOf(w.child.pid), 0),
    machine: machineBusy(),
  };
}

/** Cores used between two snapshots: the server, the client processes, and everything else (noise). */
function cpuShare(a, b) {
  const s = (b.t - a.t) / 1000;
  const server = (b.server - a.server) / s;
  const clients = (b.clients - a.clients) / s;
  return { server, clients, other: Math.max(0, (b.machine - a.machine) / s - server - clients) };
}

function cpuText(c) {
  const pc = (x) => `${(x * 100).toFixed(0)} %`;
  return `CPU: server ${pc(c.server)}, clients ${pc(c.clients)}, other processes ${pc(c.other)}`;
}

if (process.argv.includes('--worker')) runWorker();
else await main();
