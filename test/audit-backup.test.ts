// The audit log and saved console queries through a backup and restore (the built plaza, real
// processes): saved queries travel in the archive; the audit log never does — the restored
// server keeps its own trail and adds the restore to it.
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/cli/commands/serve.js';
import { loadConfig } from '../src/config.js';
import { api, PASSWORD } from './helpers/api.js';
import { createPgSchema, type DbKind, PG_URL, testDatabases } from './helpers/databases.js';
import { MAIN } from './helpers/process.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function target(kind: DbKind) {
  const root = mkdtempSync(path.join(tmpdir(), 'plaza-audit-backup-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const schema = kind === 'postgres' ? await createPgSchema() : undefined;
  if (schema) cleanups.push(() => schema.drop());
  return {
    PLAZA_DATA_DIR: path.join(root, 'data'),
    PLAZA_LOG_LEVEL: 'silent',
    PLAZA_DISK_RESERVE_BYTES: '65536',
    PLAZA_ADMIN_USERNAME: 'boss',
    PLAZA_ADMIN_PASSWORD: PASSWORD,
    ...(schema ? { PLAZA_DATABASE_URL: PG_URL, PLAZA_DATABASE_SCHEMA: schema.schema } : {}),
  };
}

const plaza = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', cwd: tmpdir(), timeout: 60_000 });

async function withServer<T>(env: Record<string, string>, fn: (base: string, admin: string) => Promise<T>): Promise<T> {
  const running = await startServer(loadConfig({ PLAZA_HOST: '127.0.0.1', PLAZA_PORT: '0', ...env }));
  const addr = running.app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  try {
    const admin = (await api(base, 'POST', '/api/auth/login', { json: { identifier: 'boss', password: PASSWORD } })).body.accessToken as string;
    return await fn(base, admin);
  } finally {
    await running.close();
  }
}

async function entryNames(file: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  createReadStream(file).pipe(extract);
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) parts.push(c);
    out.set(entry.header.name, Buffer.concat(parts).toString('utf8'));
  }
  return out;
}

const dbs = await testDatabases();
const pairs: Array<[DbKind, DbKind]> = [['sqlite', 'sqlite'], ...(dbs.includes('postgres') ? ([['sqlite', 'postgres'], ['postgres', 'sqlite']] as Array<[DbKind, DbKind]>) : [])];

describe.each(pairs)('audit log and saved queries through a backup %s → %s', (from, to) => {
  it('saved queries are restored; the audit log stays the restored server’s own, with the restore added', async () => {
    const src = await target(from);
    await withServer(src, async (base, admin) => {
      const saved = await api(base, 'POST', '/api/admin/console/saved', { token: admin, json: { name: 'Roles', sql: 'select role, count(*) from users group by role', chart: { type: 'pie', x: 'role', y: ['count'] } } });
      expect(saved.status).toBe(201);
      expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'only-at-source', password: 'wrong-password' } })).status).toBe(401);
    });
    const b = plaza(['backup', '--json'], src);
    expect(b.status, b.stderr).toBe(0);
    const { archive, rowCounts } = JSON.parse(b.stdout.trim()) as { archive: string; rowCounts: Record<string, number> };
    expect(rowCounts.console_queries).toBe(1);
    expect(rowCounts).not.toHaveProperty('audit_log');
    const entries = await entryNames(archive);
    expect([...entries.keys()]).toContain('db/console_queries.jsonl');
    expect([...entries.keys()].some((n) => n.includes('audit'))).toBe(false);
    expect(entries.get('db/console_queries.jsonl')).toContain('"name":"Roles"');

    const dst = await target(to);
    await withServer(dst, async (base) => {
      expect((await api(base, 'POST', '/api/auth/login', { json: { identifier: 'only-at-destination', password: 'wrong-password' } })).status).toBe(401);
    });
    const r = plaza(['restore', archive, '--yes', '--json'], dst);
    expect(r.status, r.stderr).toBe(0);
    await withServer(dst, async (base, admin) => {
      const saved = await api(base, 'GET', '/api/admin/console/saved', { token: admin });
      expect(saved.body.queries).toEqual([expect.objectContaining({ name: 'Roles', chart: { type: 'pie', x: 'role', y: ['count'] } })]);
      const audit = (await api(base, 'GET', '/api/admin/audit?limit=500', { token: admin })).body.entries as { action: string; outcome: string; target: string | null; ip: string | null }[];
      const targets = audit.map((e) => e.target);
      expect(targets).toContain('only-at-destination');
      expect(targets).not.toContain('only-at-source');
      expect(audit.find((e) => e.action === 'restore')).toMatchObject({ outcome: 'success', ip: 'cli', target: path.basename(archive) });
      // The safety backup the restore took is recorded too.
      expect(audit.some((e) => e.action === 'backup' && e.outcome === 'success' && /pre-restore/.test(e.target ?? ''))).toBe(true);
    });
  });
});
