// Scaling benchmark (issue "Soak"): how each list, history and upload operation's cost grows with
// the data. For each size in SIZES, one user's files and one room's messages are seeded directly
// into the database (not through the API: 10⁶ rows in seconds), then each operation is timed
// with sequential requests on one keep-alive connection. The ceiling is the first size: the
// table prints each size's median and its ratio to the smallest size's (≈ 1× when an operation
// costs O(page), ≈ size ratio when it reads every row). GET /api/users/me, which reads no
// growing table, is the control row.
//
// Usage: npm run bench:scaling [-- --pg]   (or node bench/scaling.bench.mjs after npm run build)
//   env: SIZES=1000,100000,1000000 REQUESTS=200 WARMUP=30 PG_URL=postgres://… PLAZA_MAIN=dist/plaza.mjs
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { json, median, startProcess, tempDir } from './lib.mjs';

const env = process.env;
const SIZES = (env.SIZES ?? '1000,100000,1000000').split(',').map(Number);
const REQUESTS = Number(env.REQUESTS ?? 200);
const WARMUP = Number(env.WARMUP ?? 30);
const PG = process.argv.includes('--pg');
const PG_URL = env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MAIN = env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
const PASSWORD = 'scaling-password-1';
const T0 = Date.now() - 10 * 365 * 86_400_000;

const TOTALS = `delete from file_totals;
  insert into file_totals (owner_id, category, file_count, byte_count)
  select owner_id, category, count(*), sum(size) from files group by owner_id, category`;

/** Seeds `n` files of `ownerId` and `n` messages into `roomId` (SQLite: one transaction). */
function seedSqlite(file, n, ownerId, roomId) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const cats = ['images', 'documents', 'files'];
  const insertFile = db.prepare(
    'insert into files (id, owner_id, original_name, stored_name, category, size, sha256, mime, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertMessage = db.prepare(
    "insert into chat_messages (id, room_id, seq, sender_id, sender_name, kind, body, file_id, client_id, created_at) values (?, ?, ?, ?, 'scale', 'text', ?, null, null, ?)",
  );
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const name = `file-${((i * 7919) % n).toString().padStart(7, '0')}.bin`;
      insertFile.run(`seed${i}`, ownerId, name, `seed-${i}.bin`, cats[i % 3], 1 + ((i * 104729) % 10_000), 'a'.repeat(64), 'application/octet-stream', T0 + i, T0 + i);
      insertMessage.run(`m${i}`, roomId, i + 1, ownerId, `seeded message ${i}`, T0 + i);
    }
    db.prepare('update chat_rooms set last_seq = ? where id = ?').run(n, roomId);
    // What Plaza keeps with every insert (migration 0007), written here as an upload would have.
    if (db.prepare("select 1 from sqlite_master where name = 'file_totals'").get()) db.exec(TOTALS);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function seedPostgres(schema, n, ownerId, roomId) {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`set search_path to ${schema}`);
    await client.query(
      `insert into files (id, owner_id, original_name, stored_name, category, size, sha256, mime, created_at, updated_at)
       select 'seed' || i, $1, 'file-' || lpad(((i::bigint * 7919) % $2)::text, 7, '0') || '.bin', 'seed-' || i || '.bin',
              (array['images','documents','files'])[i % 3 + 1], 1 + (i::bigint * 104729) % 10000, repeat('a', 64), 'application/octet-stream', $3::bigint + i, $3::bigint + i
       from generate_series(0, $2 - 1) as i`,
      [ownerId, n, T0],
    );
    await client.query(
      `insert into chat_messages (id, room_id, seq, sender_id, sender_name, kind, body, created_at)
       select 'm' || i, $1, i + 1, $2, 'scale', 'text', 'seeded message ' || i, $3::bigint + i from generate_series(0, $4 - 1) as i`,
      [roomId, ownerId, T0, n],
    );
    await client.query('update chat_rooms set last_seq = $1 where id = $2', [n, roomId]);
    if ((await client.query("select to_regclass('file_totals') as t")).rows[0].t) await client.query(TOTALS);
    await client.query('analyze');
  } finally {
    await client.end();
  }
}

/** Median and p99 of `count` sequential runs of `fn` (after the warm-up). */
async function time(fn) {
  for (let i = 0; i < WARMUP; i++) await fn(i);
  const ms = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: median(ms), p99: ms[Math.floor(ms.length * 0.99)] };
}

/** The file list's cursor (newest first) just after seeded file `i` (its created_at is T0 + i). */
function cursorAt(i) {
  return Buffer.from(JSON.stringify(['created_at', 'desc', T0 + i, `seed${i}`])).toString('base64url');
}

/** Each operation, against a server on data of size `n`. */
async function measure(base, auth, adminAuth, roomId, n) {
  const expectOk = async (res, what) => {
    if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };
  const get = (p, headers = auth) => async () => (await expectOk(await fetch(`${base}${p}`, { headers }), p)).arrayBuffer();
  const uploadAndDelete = async (i) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(1024).fill(i % 256)]), `new-${i}.bin`);
    const up = await (await expectOk(await fetch(`${base}/api/files`, { method: 'POST', headers: auth, body: form }), 'upload')).json();
    await expectOk(await fetch(`${base}/api/files/${up.files[0].id}`, { method: 'DELETE', headers: auth }), 'delete');
  };
  const listed = await (await fetch(`${base}/api/files?limit=1`, { headers: auth })).json();
  if (listed.total !== n) throw new Error(`the seeded user lists ${listed.total} files, not ${n}`);
  const ops = [
    ['GET /api/users/me (control)', get('/api/users/me')],
    ['files: first page, newest first', get('/api/files?limit=50')],
    ['files: first page by name', get('/api/files?limit=50&sort=original_name&order=asc')],
    ['files: first page by size', get('/api/files?limit=50&sort=size&order=desc')],
    ['files: first page of a category', get('/api/files?limit=50&category=images')],
    ['files: page at offset 900', get('/api/files?limit=50&offset=900')],
    // Half-way down the list: by offset it reads what it skips; by cursor (a row seeded at i) it is a range search.
    ['files: page half-way, by offset', get(`/api/files?limit=50&offset=${Math.floor(n / 2)}`)],
    ['files: page half-way, by cursor', get(`/api/files?limit=50&cursor=${cursorAt(Math.floor(n / 2))}`)],
    ['files: usage', get('/api/files/usage')],
    ["files: an admin's list (everyone's), newest", get('/api/files?limit=50', adminAuth)],
    ["files: an admin's list by name", get('/api/files?limit=50&sort=original_name&order=asc', adminAuth)],
    ["files: an admin's list by size", get('/api/files?limit=50&sort=size&order=desc', adminAuth)],
    ["files: an admin's list of a category", get('/api/files?limit=50&category=documents', adminAuth)],
    ['upload 1 KiB + delete', uploadAndDelete],
    ['history: newest page', get(`/api/chat/rooms/${roomId}/messages?limit=50`)],
    ['history: page in the middle', get(`/api/chat/rooms/${roomId}/messages?limit=50&before=${Math.floor(n / 2)}`)],
  ];
  const out = {};
  for (const [name, fn] of ops) out[name] = await time(fn);
  return out;
}

/** One size: a fresh data directory (or schema), seeded, served, measured. */
async function runSize(n) {
  const dataDir = tempDir('plaza-scaling-');
  const schema = `scaling_${process.pid}_${n}`;
  const plazaEnv = {
    PLAZA_DATA_DIR: dataDir,
    PLAZA_PORT: '0',
    PLAZA_LOG_LEVEL: 'warn',
    PLAZA_ADMIN_USERNAME: 'scaleadmin',
    PLAZA_ADMIN_PASSWORD: PASSWORD,
    PLAZA_USER_QUOTA_BYTES: String(2 ** 50),
    ...(PG ? { PLAZA_DATABASE_URL: PG_URL, PLAZA_DATABASE_SCHEMA: schema } : {}),
  };
  const psql = (sql) => execFileSync('psql', [PG_URL, '-q', '-c', sql], { stdio: 'pipe' });
  if (PG) psql(`create schema ${schema}`);
  try {
    // First start: schema, the user (not an admin: an admin's list is everyone's files) and the room, through Plaza itself.
    let plaza = await startProcess([MAIN, 'serve'], plazaEnv, /running at (\S+)/);
    let base = plaza.match[1];
    await json(`${base}/api/auth/register`, 'POST', { username: 'scale', password: PASSWORD });
    const login = await json(`${base}/api/auth/login`, 'POST', { identifier: 'scale', password: PASSWORD });
    let auth = { authorization: `Bearer ${login.accessToken}` };
    const me = await (await fetch(`${base}/api/users/me`, { headers: auth })).json();
    const room = await json(`${base}/api/chat/rooms`, 'POST', { name: 'scaling' }, auth);
    await plaza.stop();

    const t = performance.now();
    if (PG) await seedPostgres(schema, n, me.user?.id ?? me.id, room.room.id);
    else seedSqlite(path.join(dataDir, 'plaza.db'), n, me.user?.id ?? me.id, room.room.id);
    const seeded = (performance.now() - t) / 1000;

    plaza = await startProcess([MAIN, 'serve'], plazaEnv, /running at (\S+)/);
    base = plaza.match[1];
    const bearer = async (identifier) => ({ authorization: `Bearer ${(await json(`${base}/api/auth/login`, 'POST', { identifier, password: PASSWORD })).accessToken}` });
    auth = await bearer('scale');
    try {
      return { seeded, ops: await measure(base, auth, await bearer('scaleadmin'), room.room.id, n) };
    } finally {
      await plaza.stop();
    }
  } finally {
    if (PG) psql(`drop schema ${schema} cascade`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results = [];
for (const n of SIZES) {
  const r = await runSize(n);
  console.log(`${n.toLocaleString('en')} files and messages seeded in ${r.seeded.toFixed(1)} s, measured`);
  results.push(r);
}
const names = Object.keys(results[0].ops);
const width = Math.max(...names.map((s) => s.length));
console.log(`\nScaling on ${PG ? 'PostgreSQL' : 'SQLite'}: median ms (p99) of ${REQUESTS} sequential requests; × = median / median at ${SIZES[0].toLocaleString('en')}`);
console.log(`${'operation'.padEnd(width)}  ${SIZES.map((n) => `${n.toLocaleString('en')} rows`.padStart(24)).join('')}`);
for (const name of names) {
  const first = results[0].ops[name].p50;
  const cells = results.map((r) => {
    const o = r.ops[name];
    return `${o.p50.toFixed(2)} (${o.p99.toFixed(1)}) ${(o.p50 / first).toFixed(1)}×`.padStart(24);
  });
  console.log(`${name.padEnd(width)}  ${cells.join('')}`);
}
