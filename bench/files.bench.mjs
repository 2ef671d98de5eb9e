// Files benchmarks (issue "Files", SPEC §11), against a bare stream-to-disk / stream-from-disk
// server measured in the same run:
//   1. upload of a SIZE file (default 1 GiB): multipart and tus vs bare — target ≤ 1.25×
//   2. download of it vs bare — target ≤ 1.25×
//   3. server RSS growth during the upload — target ≤ 64 MiB
//   4. 20 concurrent 50 MiB uploads, each SHA-256 checked
// Usage: npm run bench:files [-- --cpu-prof]   [SIZE_MB=1024 ROUNDS=4 SETTLE_MS=1000]
//   --cpu-prof  profiles both servers (node --cpu-prof) and prints their top functions (self time)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { cpuOf, json, machineBusy, median, startProcess, tempDir, topFunctions } from './lib.mjs';

const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const MAIN = new URL('../dist/plaza.mjs', import.meta.url).pathname;
const BLOCK = Buffer.alloc(1024 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 2654435761) >>> 24;

/** A stream of `size` bytes (a repeated pseudo-random block): no memory growth on the client either. */
function body(size, prefix = Buffer.alloc(0), suffix = Buffer.alloc(0)) {
  let sent = 0;
  let stage = 0;
  return new Readable({
    read() {
      if (stage === 0) {
        stage = 1;
        if (prefix.length) return this.push(prefix);
      }
      if (sent < size) {
        const n = Math.min(BLOCK.length, size - sent);
        sent += n;
        return this.push(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n));
      }
      if (stage === 1) {
        stage = 2;
        if (suffix.length) return this.push(suffix);
      }
      this.push(null);
    },
  });
}

function expectedSha(size) {
  const h = createHash('sha256');
  for (let sent = 0; sent < size; sent += BLOCK.length) h.update(BLOCK.subarray(0, Math.min(BLOCK.length, size - sent)));
  return h.digest('hex');
}

function request(url, { method = 'POST', headers = {}, stream, length }) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, ...(length !== undefined ? { 'content-length': length } : {}) } }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        if (chunks.length < 64) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (stream) stream.pipe(req);
    else req.end();
  });
}

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/**
 * Every timed step starts from a clean page cache and a quiet disk: without this, one step pays
 * for the writeback of the gigabyte the step before it left behind, and ratios swing by 2×. Where
 * the bench may (root on Linux), the cache is emptied too, so both servers' downloads read from the
 * disk: Plaza writes uploads past the page cache (O_DIRECT), so its file would otherwise be read
 * cold against the bare server's warm one.
 */
let cacheDropped = false;
async function settle() {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    cacheDropped = true;
  } catch {
    cacheDropped = false;
  }
  await new Promise((r) => setTimeout(r, Number(process.env.SETTLE_MS ?? 1000)));
}

/** CPU seconds used during each timed step: by the server that answered, by this client, by the whole machine. */
const cpu = {};
let servers;
async function timed(fn, kind) {
  await settle();
  const pid = kind && servers[kind];
  const c0 = pid && { server: cpuOf(pid), client: process.cpuUsage(), machine: machineBusy() };
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  if (c0) {
    const c = process.cpuUsage(c0.client);
    (cpu[kind] ??= []).push({ server: cpuOf(pid) - c0.server, client: (c.user + c.system) / 1e6, machine: machineBusy() - c0.machine });
  }
  return { ms, r };
}

const dir = tempDir();
const PROFILE = process.argv.includes('--cpu-prof');
const profDir = tempDir('plaza-bench-prof-');
const profiled = (name, args) => {
  if (!PROFILE) return args;
  mkdirSync(path.join(profDir, name));
  return ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, name)}`, ...args];
};
const bare = await startProcess(profiled('bare', [new URL('./bare-disk.mjs', import.meta.url).pathname, dir]), {}, /bare-disk listening on (\d+)/);
const bareUrl = `http://127.0.0.1:${bare.match[1]}`;
const dataDir = tempDir();
const plaza = await startProcess(profiled('plaza', [MAIN, 'serve']), {
  PLAZA_DATA_DIR: dataDir,
  PLAZA_PORT: '0',
  PLAZA_LOG_LEVEL: 'warn',
  PLAZA_MAX_UPLOAD_BYTES: String(SIZE + 1024),
  PLAZA_USER_QUOTA_BYTES: String(1024 ** 4),
  PLAZA_ADMIN_USERNAME: 'bench',
  PLAZA_ADMIN_PASSWORD: 'bench-password-1',
}, /running at (\S+)/);
const base = plaza.match[1];
servers = { bareUp: bare.child.pid, bareFsync: bare.child.pid, multipart: plaza.child.pid, tus: plaza.child.pid };
const login = await json(`${base}/api/auth/login`, 'POST', { identifier: 'bench', password: 'bench-password-1' });
const auth = { authorization: `Bearer ${login.accessToken}` };
const sha = expectedSha(SIZE);

const rows = { bareUp: [], bareFsync: [], multipart: [], tus: [], bareDown: [], down: [] };
let rssGrowth = 0;
let lastBareFile;
let lastId;
const boundary = 'plazabench';
const pre = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
const post = Buffer.from(`\r\n--${boundary}--\r\n`);

const uploads = {
  async bareUp() {
    const b = await timed(() => request(bareUrl, { stream: body(SIZE), length: SIZE }), 'bareUp');
    lastBareFile = b.r.text;
    return b.ms;
  },
  // Not a ceiling: the bare write plus one fsync at the end, to show what durability costs on this
  // disk (Plaza must fsync before it answers; the bare server never does).
  async bareFsync() {
    const b = await timed(() => request(`${bareUrl}/?fsync=1`, { stream: body(SIZE), length: SIZE }), 'bareFsync');
    rmSync(b.r.text, { force: true });
    return b.ms;
  },
  async multipart() {
    const rss0 = rssOf(plaza.child.pid);
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(plaza.child.pid));
    }, 50);
    const m = await timed(() =>
      request(`${base}/api/files`, {
        headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
        stream: body(SIZE, pre, post),
        length: pre.length + SIZE + post.length,
      }),
    'multipart');
    clearInterval(sampler);
    rssGrowth = Math.max(rssGrowth, peak - rss0);
    const mFile = JSON.parse(m.r.text).files?.[0];
    if (m.r.status !== 201 || mFile.sha256 !== sha) throw new Error(`multipart upload failed: ${m.r.status} ${m.r.text.slice(0, 200)}`);
    lastId = mFile.id;
    return m.ms;
  },
  async tus() {
    const t = await timed(async () => {
      const created = await request(`${base}/api/files/tus`, {
        headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-length': String(SIZE), 'upload-metadata': `filename ${Buffer.from('big-tus.bin').toString('base64')}` },
      });
      return request(`${base}${created.headers.location}`, {
        method: 'PATCH',
        headers: { ...auth, 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        stream: body(SIZE),
        length: SIZE,
      });
    }, 'tus');
    const tFile = JSON.parse(t.r.text).file;
    if (tFile?.sha256 !== sha) throw new Error(`tus upload failed: ${t.r.status} ${t.r.text.slice(0, 200)}`);
    await request(`${base}/api/files/${tFile.id}`, { method: 'DELETE', headers: auth });
    return t.ms;
  },
};
// Each round starts with a different upload kind, so no kind always follows (and pays for the
// writeback of) the same other one.
const kinds = Object.keys(uploads);
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[(round + i) % kinds.length];
    rows[kind].push(await uploads[kind]());
  }
  rows.bareDown.push((await timed(() => request(`${bareUrl}/${encodeURIComponent(lastBareFile)}`, { method: 'GET' }))).ms);
  const d = await timed(() => request(`${base}/api/files/${lastId}/content`, { method: 'GET', headers: auth }));
  if (d.r.bytes !== SIZE) throw new Error(`download returned ${d.r.bytes} bytes`);
  rows.down.push(d.ms);
  await request(`${base}/api/files/${lastId}`, { method: 'DELETE', headers: auth });
  rmSync(lastBareFile, { force: true });
}

// 20 concurrent 50 MiB uploads, each checked.
const PART = 50 * 1024 * 1024;
const partSha = expectedSha(PART);
const many = await timed(() =>
  Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      request(`${base}/api/files/raw`, {
        headers: { ...auth, 'content-type': 'application/octet-stream', 'file-name': `part-${i}.bin`, 'file-size': String(PART) },
        stream: body(PART),
        length: PART,
      }),
    ),
  ),
);
const okCount = many.r.filter((r) => r.status === 201 && JSON.parse(r.text).file.sha256 === partSha).length;

await plaza.stop();
await bare.stop();
rmSync(dataDir, { recursive: true, force: true });
rmSync(dir, { recursive: true, force: true });

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mb = SIZE / 1024 / 1024;
const ratio = (a, b) => median(a) / median(b);
const line = (label, xs, ceiling) =>
  `  ${label.padEnd(26)} ${s(median(xs)).padStart(8)}  (${(mb / (median(xs) / 1000)).toFixed(0)} MiB/s)${ceiling ? `   ${ratio(xs, ceiling).toFixed(2)}× bare   ${ratio(xs, ceiling) <= 1.25 ? 'PASS' : 'FAIL'}` : ''}`;
console.log(`\nFiles benchmark: ${mb} MiB, medians of ${ROUNDS} rounds; page cache ${cacheDropped ? 'emptied before each step' : 'NOT emptied (needs root): downloads compare a cold Plaza file with a warm bare one'}`);
console.log(`  rounds (s): ${Object.entries(rows).map(([k, xs]) => `${k} ${xs.map((x) => (x / 1000).toFixed(2)).join('/')}`).join(', ')}`);
console.log(line('bare stream-to-disk', rows.bareUp));
console.log(`${line('(bare + one fsync)', rows.bareFsync)}   ${ratio(rows.bareFsync, rows.bareUp).toFixed(2)}× bare, context only`);
console.log(line('multipart upload', rows.multipart, rows.bareUp));
console.log(line('tus upload (one PATCH)', rows.tus, rows.bareUp));
console.log(line('bare stream-from-disk', rows.bareDown));
console.log(line('download', rows.down, rows.bareDown));
const cpuMedian = (kind, k) => median(cpu[kind].map((c) => c[k])).toFixed(2);
console.log(`  CPU seconds per upload (medians; ${availableParallelism()} cores shared by server and client):`);
for (const kind of Object.keys(uploads)) console.log(`    ${kind.padEnd(10)} server ${cpuMedian(kind, 'server')}, client ${cpuMedian(kind, 'client')}, whole machine ${cpuMedian(kind, 'machine')}`);
console.log(`  server RSS growth in upload ${(rssGrowth / 1024 / 1024).toFixed(1)} MiB   (target ≤ 64)  ${rssGrowth <= 64 * 1024 * 1024 ? 'PASS' : 'FAIL'}`);
console.log(`  20 × 50 MiB concurrent      ${s(many.ms)}   ${okCount}/20 with the right SHA-256  ${okCount === 20 ? 'PASS' : 'FAIL'}`);
if (PROFILE) {
  console.log(`\nPlaza server CPU profile (self time; kept in ${profDir})\n${topFunctions(path.join(profDir, 'plaza'))}`);
  console.log(`\nbare server CPU profile (self time)\n${topFunctions(path.join(profDir, 'bare'), 12)}`);
} else rmSync(profDir, { recursive: true, force: true });
