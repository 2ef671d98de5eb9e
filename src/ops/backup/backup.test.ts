import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { createReadStream } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';
import { api, PASSWORD, registerAndLogin } from '../../../test/helpers/api.js';
import { testDatabases } from '../../../test/helpers/databases.js';
import { startTestServer, type TestServer } from '../../../test/helpers/server.js';
import { readArchive } from './archive-reader.js';
import { createBackupService } from './backup.service.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function uploadRaw(base: string, token: string, name: string, data: Buffer) {
  const res = await fetch(`${base}/api/files/raw`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'file-name': encodeURIComponent(name) },
    body: data,
  });
  const body = (await res.json()) as { file: { id: string } };
  if (res.status !== 201) throw new Error(`upload ${res.status} ${JSON.stringify(body)}`);
  return body.file;
}

/** Every entry of an archive, read fully (test archives are small). */
async function entriesOf(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) parts.push(c);
    out.set(entry.header.name, Buffer.concat(parts));
  }
  return out;
}

const jsonl = (b: Buffer | undefined) =>
  (b ?? Buffer.alloc(0))
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('config', () => {
  it('refuses an invalid PLAZA_BACKUP_SCHEDULE at start, with the value named', () => {
    expect(() => loadConfig({ PLAZA_BACKUP_SCHEDULE: 'every night' })).toThrow(ConfigError);
    expect(() => loadConfig({ PLAZA_BACKUP_SCHEDULE: '61 * * * *' })).toThrow(/PLAZA_BACKUP_SCHEDULE.*61 \* \* \* \*/);
    const c = loadConfig({ PLAZA_BACKUP_SCHEDULE: '0 3 * * *', PLAZA_BACKUP_KEEP: '3' });
    expect(c.backup).toEqual({ schedule: '0 3 * * *', keep: 3 });
    expect(loadConfig({}).backup).toEqual({ keep: 7 });
  });
});

describe('scheduled backups', () => {
  it('PLAZA_BACKUP_SCHEDULE writes archives while serving and PLAZA_BACKUP_KEEP prunes them', async () => {
    const s = await startTestServer('sqlite', { PLAZA_BACKUP_SCHEDULE: '* * * * * *', PLAZA_BACKUP_KEEP: '1' });
    try {
      const dir = path.join(s.dataDir, 'backups');
      const deadline = Date.now() + 10_000;
      let seen = new Set<string>();
      while (Date.now() < deadline && seen.size < 3) {
        for (const n of existsSync(dir) ? readdirSync(dir) : []) if (n.endsWith('.tar')) seen.add(n);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen.size).toBeGreaterThanOrEqual(3);
      await new Promise((r) => setTimeout(r, 300));
      seen = new Set(readdirSync(dir).filter((n) => n.endsWith('.tar')));
      expect(seen.size).toBeLessThanOrEqual(2); // the kept one, and at most one just written
      for (const n of seen) await readArchive(path.join(dir, n)).catch((err) => expect(String(err)).toMatch(/ENOENT/));
    } finally {
      await s.close();
    }
  });
});

describe.each(await testDatabases())('backups while serving (%s)', (db) => {
  let s: TestServer;
  let base: string;
  let admin: { accessToken: string };
  let user: { accessToken: string };

  beforeAll(async () => {
    s = await startTestServer(db, { PLAZA_ADMIN_USERNAME: 'boss', PLAZA_ADMIN_PASSWORD: PASSWORD, PLAZA_BACKUP_KEEP: '2' });
    base = `http://127.0.0.1:${s.port}`;
    admin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } })).body;
    user = await registerAndLogin(base, 'alice');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('a backup taken while uploads and chat go on is consistent: every listed file wholly in, with its bytes', async () => {
    const room = (await api(base, 'POST', '/api/chat/rooms', { token: user.accessToken, json: { name: 'busy' } })).body.room;
    let stop = false;
    const acked: string[] = [];
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        await uploadRaw(base, user.accessToken, `f${i}.bin`, randomBytes(64 * 1024 + i * 997));
        const m = await api(base, 'POST', `/api/chat/rooms/${room.id}/messages`, { token: user.accessToken, json: { body: `m${i}` } });
        expect(m.status).toBe(201);
        acked.push(`m${i}`);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const backups = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await api(base, 'POST', '/api/admin/backups', { token: admin.accessToken });
      expect(r.status, r.text).toBe(201);
      // Read at once: PLAZA_BACKUP_KEEP=2 removes the oldest after the third.
      const file = path.join(s.dataDir, 'backups', r.body.backup.name);
      backups.push({ ...r.body, wall: Date.now() - t0, check: await readArchive(file), entries: await entriesOf(file) });
      // The server kept serving meanwhile.
      expect((await api(base, 'GET', '/api/health')).status).toBe(200);
    }
    stop = true;
    await load;
    expect(acked.length).toBeGreaterThan(3);
    for (const b of backups) {
      expect(b.check.manifest.missing ?? []).toEqual([]);
      const entries = b.entries;
      const rows = jsonl(entries.get('db/files.jsonl'));
      expect(rows.length).toBe(b.rowCounts.files);
      for (const row of rows) {
        const bytes = entries.get(`files/${row.category}/${row.stored_name}`);
        expect(bytes, row.stored_name).toBeDefined();
        expect(bytes?.length).toBe(row.size);
        expect(sha(bytes as Buffer)).toBe(row.sha256);
      }
      // Exactly the snapshot's files: nothing half-written or unlisted came along.
      expect([...entries.keys()].filter((n) => n.startsWith('files/')).length).toBe(rows.length);
      const messages = jsonl(entries.get('db/chat_messages.jsonl'));
      const seqs = messages.filter((m) => m.room_id === room.id).map((m) => m.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    // Readiness says when the newest backup was taken.
    const ready = await api(base, 'GET', '/api/ready');
    expect(ready.body.backup.lastAt).toBe(backups[2].backup.createdAt);
    // PLAZA_BACKUP_KEEP=2: the oldest regular archive went.
    const listed = await api(base, 'GET', '/api/admin/backups', { token: admin.accessToken });
    expect(listed.body.backups.map((b: { name: string }) => b.name)).toEqual([backups[2].backup.name, backups[1].backup.name]);
  });

  it('a file deleted after the snapshot is still archived; its bytes are gone from storage afterwards', async () => {
    const data = randomBytes(200_000);
    const f = await uploadRaw(base, user.accessToken, 'doomed.bin', data);
    let deleted = false;
    const backups = createBackupService({
      database: s.core.database,
      dataDir: s.dataDir,
      clock: s.core.clock,
      keep: 0,
      storage: {
        holdDeletions: () => s.core.storage.holdDeletions(),
        async openForBackup(category, storedName) {
          if (!deleted) {
            deleted = true;
            const del = await api(base, 'DELETE', `/api/files/${f.id}`, { token: user.accessToken });
            expect(del.status).toBeLessThan(300);
          }
          return s.core.storage.openForBackup(category, storedName);
        },
      },
    });
    const r = await backups.create({ outputDir: path.join(s.dataDir, 'elsewhere') });
    expect(r.missing).toEqual([]);
    const entries = await entriesOf(r.path);
    const rows = jsonl(entries.get('db/files.jsonl'));
    const doomed = rows.find((x) => x.id === f.id);
    expect(doomed).toBeDefined();
    expect(entries.get(`files/${doomed?.category}/${doomed?.stored_name}`)?.equals(data)).toBe(true);
    // Released: the kept bytes are gone, and so is the file.
    const kept = path.join(s.dataDir, 'uploads', '.deleted');
    expect(existsSync(kept) ? readdirSync(kept) : []).toEqual([]);
    expect(existsSync(path.join(s.dataDir, 'uploads', doomed?.category, doomed?.stored_name))).toBe(false);
    expect(readdirSync(path.join(s.dataDir, 'uploads', '.holds'))).toEqual([]);
  });

  it('admin API: 401 without a token, 403 for a user, streamed download, delete, and names that are paths refused', async () => {
    expect((await api(base, 'POST', '/api/admin/backups')).status).toBe(401);
    expect((await api(base, 'GET', '/api/admin/backups')).body.error.code).toBe('UNAUTHENTICATED');
    for (const [method, p] of [['POST', '/api/admin/backups'], ['GET', '/api/admin/backups'], ['GET', '/api/admin/backups/plaza-backup-20260101T000000000Z.tar'], ['DELETE', '/api/admin/backups/plaza-backup-20260101T000000000Z.tar']] as const) {
      const r = await api(base, method, p, { token: user.accessToken });
      expect(r.status, `${method} ${p}`).toBe(403);
      expect(r.body.error.code).toBe('FORBIDDEN');
    }
    const made = await api(base, 'POST', '/api/admin/backups', { token: admin.accessToken });
    expect(made.status).toBe(201);
    const name = made.body.backup.name as string;
    const dl = await fetch(`${base}/api/admin/backups/${name}`, { headers: { authorization: `Bearer ${admin.accessToken}` } });
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-disposition')).toContain(name);
    const bytes = Buffer.from(await dl.arrayBuffer());
    expect(bytes.equals(readFileSync(path.join(s.dataDir, 'backups', name)))).toBe(true);
    for (const bad of ['..%2F..%2Fsecret', '%2e%2e%2fsecret', '%2Fetc%2Fpasswd', 'plaza-backup-20260101T000000000Z.tar%00', 'secret', '%00']) {
      const r = await api(base, 'GET', `/api/admin/backups/${bad}`, { token: admin.accessToken });
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect((await api(base, 'DELETE', `/api/admin/backups/${bad}`, { token: admin.accessToken })).status).toBe(400);
    }
    expect(existsSync(path.join(s.dataDir, 'secret'))).toBe(true);
    const missing = await api(base, 'GET', '/api/admin/backups/plaza-backup-20260101T000000000Z.tar', { token: admin.accessToken });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect((await api(base, 'DELETE', `/api/admin/backups/${name}`, { token: admin.accessToken })).body).toEqual({ deleted: name });
    expect(existsSync(path.join(s.dataDir, 'backups', name))).toBe(false);
  });
});
