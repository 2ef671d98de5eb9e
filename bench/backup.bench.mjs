// Backup and restore of a SQLite data dir (SIZE_MB of files, MESSAGES chat messages) against the
// ceiling measured in the same run: `tar cf` of the same files + SQLite's online backup alone.
// Issue 16: backup ≤ 1.5 × that ceiling; restore ≤ 2 × the backup; chat p99 while a running
// server writes a backup (POST /api/admin/backups) ≤ 2 × its p99 without one.
//   npm run bench:backup            SIZE_MB=1024 MESSAGES=100000 FILES=200
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { json, startProcess, tempDir } from './lib.mjs';

const SIZE_MB = Number(process.env.SIZE_MB ?? 1024);
const MESSAGES = Number(process.env.MESSAGES ?? 100_000);
const FILES = Number(process.env.FILES ?? 200);
const MAIN = path.resolve('dist/plaza.mjs');

const root = tempDir('plaza-bench-backup-');
const dataDir = path.join(root, 'data');
const env = { ...process.env, PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent' };
const plaza = (args, e = env) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: e, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`plaza ${args.join(' ')}: ${r.stderr}`);
  return { ms: performance.now() - t0, out: r.stdout };
};
const dropCaches = () => {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {}
};

try {
  plaza(['migrate']);
  const db = new Database(path.join(dataDir, 'plaza.db'));
  const now = Date.now();
  const perFile = Math.floor((SIZE_MB * 1024 * 1024) / FILES);
  db.transaction(() => {
    const user = db.prepare("insert into users (username, password_hash, role, disabled, created_at, updated_at) values (?, 'x', 'user', 0, ?, ?)");
    for (let i = 0; i < 100; i++) user.run(`user${i}`, now, now);
    db.prepare("insert into chat_rooms (name, kind, visibility, created_by, created_at, last_seq) values ('bench', 'room', 'public', 1, ?, ?)").run(now, MESSAGES);
    const msg = db.prepare("insert into chat_messages (id, room_id, seq, sender_id, sender_name, kind, body, created_at) values (?, 1, ?, ?, ?, 'text', ?, ?)");
    for (let i = 1; i <= MESSAGES; i++) msg.run(randomBytes(12).toString('hex'), i, (i % 100) + 1, `user${i % 100}`, `message number ${i} with a little text in it`, now + i);
    const file = db.prepare("insert into files (id, owner_id, original_name, stored_name, category, size, sha256, mime, created_at, updated_at) values (?, ?, ?, ?, 'files', ?, ?, 'application/octet-stream', ?, ?)");
    mkdirSync(path.join(dataDir, 'uploads', 'files'), { recursive: true });
    for (let i = 0; i < FILES; i++) {
      const bytes = randomBytes(perFile);
      const stored = `${randomBytes(16).toString('base64url')}.bin`;
      writeFileSync(path.join(dataDir, 'uploads', 'files', stored), bytes);
      file.run(randomBytes(8).toString('hex'), (i % 100) + 1, `f${i}.bin`, stored, perFile, createHash('sha256').update(bytes).digest('hex'), now, now);
    }
  })();
  db.close();
  console.log(`data: ${FILES} files, ${SIZE_MB} MiB; ${MESSAGES} chat messages`);

  // Ceiling: tar of the same files + SQLite's online backup of the same database, in one run.
  dropCaches();
  const c0 = performance.now();
  execFileSync('tar', ['cf', path.join(root, 'ceiling.tar'), '-C', dataDir, 'uploads']);
  const src = new Database(path.join(dataDir, 'plaza.db'), { readonly: true });
  await src.backup(path.join(root, 'ceiling.db'));
  src.close();
  const ceiling = performance.now() - c0;

  dropCaches();
  const b = plaza(['backup', '--json']);
  const archive = JSON.parse(b.out);
  dropCaches();
  const target = path.join(root, 'restored');
  const r = plaza(['restore', archive.archive, '--yes', '--json'], { ...env, PLAZA_DATA_DIR: target });
  const ceilingBytes = statSync(path.join(root, 'ceiling.tar')).size + statSync(path.join(root, 'ceiling.db')).size;
  console.log(`ceiling (tar + online backup): ${(ceiling / 1000).toFixed(2)} s, ${(ceilingBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(`plaza backup:  ${(b.ms / 1000).toFixed(2)} s (process wall; ${(archive.durationMs / 1000).toFixed(2)} s inside), ${(archive.bytes / 2 ** 20).toFixed(0)} MiB  → ${(b.ms / ceiling).toFixed(2)} × ceiling (target ≤ 1.5)`);
  console.log(`plaza restore: ${(r.ms / 1000).toFixed(2)} s (verify, stage, safety backup of an empty dir, import, swap) → ${(r.ms / b.ms).toFixed(2)} × backup (target ≤ 2)`);
  await chatDuringBackup();
} finally {
  rmSync(root, { recursive: true, force: true });
}

/** Chat sends at 50/s for 4 s, without and then during a backup written by the running server. */
async function chatDuringBackup() {
  const server = await startProcess([MAIN, 'serve'], { ...env, PLAZA_PORT: '0', PLAZA_ADMIN_USERNAME: 'benchadmin', PLAZA_ADMIN_PASSWORD: 'bench-admin-password' }, /running at (\S+)/);
  try {
    const base = server.match[1];
    const { accessToken } = await json(`${base}/api/auth/login`, 'POST', { identifier: 'benchadmin', password: 'bench-admin-password' });
    const auth = { authorization: `Bearer ${accessToken}` };
    const { room } = await json(`${base}/api/chat/rooms`, 'POST', { name: 'latency' }, auth);
    const sends = async (ms) => {
      const lat = [];
      const pending = [];
      const end = performance.now() + ms;
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        pending.push(json(`${base}/api/chat/rooms/${room.id}/messages`, 'POST', { body: `ping ${i}` }, auth).then(() => lat.push(performance.now() - t0)));
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(pending);
      lat.sort((a, b) => a - b);
      return { p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], n: lat.length };
    };
    const idle = await sends(4000);
    const t0 = performance.now();
    const backup = fetch(`${base}/api/admin/backups`, { method: 'POST', headers: auth }).then(() => performance.now() - t0);
    const during = await sends(4000);
    const took = await backup;
    const f = (x) => x.toFixed(1);
    console.log(`chat send latency: idle p50 ${f(idle.p50)} ms p99 ${f(idle.p99)} ms; during a backup (${(took / 1000).toFixed(1)} s in the server) p50 ${f(during.p50)} ms p99 ${f(during.p99)} ms → ${(during.p99 / idle.p99).toFixed(2)} × (target ≤ 2)`);
  } finally {
    await server.stop();
  }
}
