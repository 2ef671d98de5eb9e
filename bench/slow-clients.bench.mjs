// Slow-client benchmark (issue "Hardening II" #1): what a drip attack from one address costs
// everyone else. One address (127.0.0.1) opens DRIPS (2,000) connections, each posting to
// /api/auth/login with Content-Length: 1000000 and then one byte every 5 s; meanwhile another
// address (127.0.0.2) asks GET /api/health PROBES times. Printed, with the same probes on the idle
// server first as the ceiling:
//   - how many drips were accepted (up to PLAZA_MAX_CONNECTIONS_PER_IP) and how the rest were
//     refused (503 TOO_MANY_CONNECTIONS, median time to the answer)
//   - the other address's median and max latency under the attack, and its ratio to the idle one
//   - when the accepted drips were answered 408 (PLAZA_BODY_TIMEOUT_SECONDS) and a header drip
//     was cut (PLAZA_HEADERS_TIMEOUT_SECONDS)
// Usage: npm run bench:slow-clients   env: DRIPS=2000 PROBES=50 PLAZA_MAIN=dist/plaza.mjs
import net from 'node:net';
import { median, startProcess, tempDir } from './lib.mjs';

const DRIPS = Number(process.env.DRIPS ?? 2000);
const PROBES = Number(process.env.PROBES ?? 50);
const MAIN = process.env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;

const plaza = await startProcess([MAIN, 'serve'], { PLAZA_DATA_DIR: tempDir(), PLAZA_PORT: '0', PLAZA_LOG_LEVEL: 'warn' }, /running at (\S+)/);
const { port } = new URL(plaza.match[1]);

/** One raw connection: when it was answered, with what status line, and when it closed. */
function open(localAddress, first) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = { socket: net.connect({ host: '127.0.0.1', port, localAddress }), status: 0, answeredMs: undefined, closedMs: undefined };
    let data = '';
    c.socket.on('connect', () => {
      if (first) c.socket.write(first);
      resolve(c);
    });
    c.socket.on('data', (d) => {
      data += d.toString('latin1');
      if (c.answeredMs === undefined && data.includes('\r\n')) {
        c.answeredMs = performance.now() - t0;
        c.status = Number(data.split(' ')[1]);
      }
    });
    c.socket.on('error', () => {});
    c.socket.on('close', () => {
      c.closedMs = performance.now() - t0;
      resolve(c);
    });
  });
}

async function probe() {
  const t0 = performance.now();
  const c = await open('127.0.0.2', 'GET /api/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n');
  while (c.answeredMs === undefined && c.closedMs === undefined) await new Promise((r) => setTimeout(r, 1));
  c.socket.destroy();
  return { ms: performance.now() - t0, status: c.status };
}

async function probes() {
  const out = [];
  for (let i = 0; i < PROBES; i++) out.push(await probe());
  return out;
}

await probes(); // warm-up: the first requests of a fresh process are slower
const idle = await probes();

const LOGIN_HEAD = 'POST /api/auth/login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{';
const started = performance.now();
const drips = [];
for (let i = 0; i < DRIPS; i++) drips.push(await open('127.0.0.1', LOGIN_HEAD));
const dripTimer = setInterval(() => {
  for (const d of drips) if (d.socket.writable && d.answeredMs === undefined) d.socket.write(' ');
}, 5000);
await new Promise((r) => setTimeout(r, 500));
const attacked = await probes();

// A header drip: one header line every 2 s, never the blank line.
const headerDrip = await open('127.0.0.3', 'GET /api/health HTTP/1.1\r\n');
const headerTimer = setInterval(() => headerDrip.socket.writable && headerDrip.socket.write(`X-Drip-${Date.now()}: 1\r\n`), 2000);

const accepted = () => drips.filter((d) => d.status !== 503);
while (accepted().some((d) => d.answeredMs === undefined && d.closedMs === undefined) || headerDrip.closedMs === undefined) {
  if (performance.now() - started > 120_000) break;
  await new Promise((r) => setTimeout(r, 250));
}
clearInterval(dripTimer);
clearInterval(headerTimer);

const refused = drips.filter((d) => d.status === 503);
const statusCounts = {};
for (const d of accepted()) statusCounts[d.status || 'closed'] = (statusCounts[d.status || 'closed'] ?? 0) + 1;
const ms = (xs) => `${median(xs).toFixed(1)} ms median, ${Math.max(...xs).toFixed(1)} ms max`;
console.log(`\nSlow clients: ${DRIPS} login-body drips from 127.0.0.1, probes from 127.0.0.2`);
console.log(`  drips accepted:        ${accepted().length}, answered ${JSON.stringify(statusCounts)} after ${(median(accepted().map((d) => d.answeredMs ?? d.closedMs)) / 1000).toFixed(1)} s (median)`);
console.log(`  drips refused:         ${refused.length} with 503, ${refused.length ? ms(refused.map((d) => d.answeredMs)) : '-'} to the answer`);
console.log(`  other address, idle:   ${ms(idle.map((p) => p.ms))} (statuses ${[...new Set(idle.map((p) => p.status))]})`);
console.log(`  other address, attack: ${ms(attacked.map((p) => p.ms))} (statuses ${[...new Set(attacked.map((p) => p.status))]})`);
console.log(`  ratio attack/idle:     ${(median(attacked.map((p) => p.ms)) / median(idle.map((p) => p.ms))).toFixed(2)} × (median)`);
console.log(`  header drip cut after: ${((headerDrip.answeredMs ?? headerDrip.closedMs) / 1000).toFixed(1)} s with ${headerDrip.status || 'a close'}`);
for (const d of drips) d.socket.destroy();
headerDrip.socket.destroy();
await plaza.stop();
