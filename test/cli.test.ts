import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from './helpers/api.js';
import { MAIN, serveProcess as serve } from './helpers/process.js';

const dirs: string[] = [];

function tempDir() {
  const d = mkdtempSync(path.join(tmpdir(), 'plaza-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function plaza(args: string[], env: Record<string, string>, input?: string) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    input: input ?? '',
    encoding: 'utf8',
    cwd: env.PLAZA_DATA_DIR ?? tmpdir(),
    timeout: 20_000,
  });
}

describe('plaza command', () => {
  it('first start: creates data dir, 0600 secret, prints URL and a one-time setup link that works once', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const s = await serve({ PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'info' });
    try {
      expect(statSync(path.join(dataDir, 'secret')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(dataDir, 'plaza.db')).isFile()).toBe(true);
      const banner = s.stderr();
      expect(banner).toContain('No admin exists yet');
      // Without a terminal the banner is one JSON line on stderr, its facts as fields.
      const record = JSON.parse(banner.trim().split('\n')[0] ?? '{}');
      expect(record).toMatchObject({ level: 30, url: s.url, database: 'sqlite' });
      expect(record.msg).toMatch(/^Plaza is running at http/);
      const setupUrl: string = record.setupUrl ?? '';
      expect(record.banner.join('\n')).toContain(setupUrl);
      const token = new URL(setupUrl).searchParams.get('token') ?? '';
      const page = await api(s.url, 'GET', `/setup?token=${token}`, { headers: { accept: 'text/html' } });
      expect(page.text).toContain('Create the first admin');

      const secretPw = 'Very-Secret-Admin-Pw-42';
      const created = await api(s.url, 'POST', '/api/setup', {
        json: { token, username: 'founder', password: secretPw },
      });
      expect(created.status).toBe(201);
      expect(created.body.user.role).toBe('admin');
      const reuse = await api(s.url, 'POST', '/api/setup', {
        json: { token, username: 'founder2', password: secretPw },
      });
      expect(reuse.status).toBe(403);

      const login = await api(s.url, 'POST', '/api/auth/login', {
        json: { identifier: 'founder', password: secretPw },
      });
      expect(login.status).toBe(200);
      await api(s.url, 'GET', '/api/users/me', { token: login.body.accessToken });
      await api(s.url, 'GET', '/api/auth/elevation', { headers: { 'x-plaza-key': 'k'.repeat(64) } });

      // Logs are JSON lines with request ids and never carry secrets.
      const logs = s.stdout();
      const lines = logs
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.some((l) => typeof l.reqId === 'string')).toBe(true);
      for (const secret of [secretPw, login.body.accessToken, login.body.refreshToken, token, 'k'.repeat(64)]) {
        expect(logs).not.toContain(secret);
      }
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toContain('SIGTERM received');
  });

  it('restart on an existing database keeps the secret and is ready quickly', async () => {
    const dataDir = tempDir();
    const first = await serve({
      PLAZA_DATA_DIR: dataDir,
      PLAZA_LOG_LEVEL: 'warn',
      PLAZA_ADMIN_USERNAME: 'boss',
      PLAZA_ADMIN_PASSWORD: 'boss-password-1',
    });
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    const secretBefore = statSync(path.join(dataDir, 'secret')).mtimeMs;
    // A typo'd setting is named at start (it would otherwise leave the default in force unnoticed).
    const second = await serve({ PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'warn', PLAZA_SESION_IDLE_TTL: '60' });
    try {
      const banner = JSON.parse(second.stderr().trim().split('\n')[0] ?? '{}');
      expect(banner.warnings).toEqual(['Unknown setting PLAZA_SESION_IDLE_TTL is ignored (did you mean PLAZA_SESSION_IDLE_TTL?)']);
      expect(second.stderr()).not.toContain('Generated a new server secret');
      expect(second.stderr()).not.toContain('No admin exists yet');
      expect(statSync(path.join(dataDir, 'secret')).mtimeMs).toBe(secretBefore);
      const login = await api(second.url, 'POST', '/api/auth/login', {
        json: { identifier: 'boss', password: 'boss-password-1' },
      });
      expect(login.status).toBe(200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('admin create / set-role / reset-password, with exit codes', async () => {
    const env = { PLAZA_DATA_DIR: tempDir() };
    const created = plaza(['admin', 'create', '--username', 'ops', '--password-stdin'], env, 'ops-password-1\n');
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain('Created admin "ops"');

    const dup = plaza(['admin', 'create', '--username', 'ops', '--password', 'ops-password-2'], env);
    expect(dup.status).toBe(5);
    expect(dup.stderr).toContain('already taken');

    const last = plaza(['admin', 'set-role', 'ops', 'user'], env);
    expect(last.status).toBe(5);
    expect(last.stderr).toContain('last active admin');

    const generated = plaza(['admin', 'create', '--username', 'ops2'], env);
    expect(generated.status).toBe(0);
    expect(generated.stdout).toMatch(/Generated password \(shown once\): \S{20,}/);

    expect(plaza(['admin', 'set-role', 'ops', 'user'], env).status).toBe(0);
    expect(plaza(['admin', 'set-role', 'nobody', 'admin'], env).status).toBe(4);
    expect(plaza(['admin', 'set-role', 'ops', 'king'], env).status).toBe(2);

    const reset = plaza(['admin', 'reset-password', 'ops'], env);
    expect(reset.status).toBe(0);
    const newPw = /shown once\): (\S+)/.exec(reset.stdout)?.[1] ?? '';
    const weak = plaza(['admin', 'reset-password', 'ops', '--password', 'short'], env);
    expect(weak.status).toBe(1);
    expect(weak.stderr).toContain('at least 8');

    const s = await serve({ ...env, PLAZA_LOG_LEVEL: 'warn' });
    try {
      const login = await api(s.url, 'POST', '/api/auth/login', { json: { identifier: 'ops', password: newPw } });
      expect(login.status).toBe(200);
      expect(login.body.user.role).toBe('user');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('migrate, config errors all at once, and a refused secret', () => {
    const dataDir = tempDir();
    const m = plaza(['migrate'], { PLAZA_DATA_DIR: dataDir });
    expect(m.status).toBe(0);
    expect(m.stdout).toContain('Database is up to date (sqlite)');

    const bad = plaza(['serve'], { PLAZA_DATA_DIR: dataDir, PLAZA_PORT: 'abc', PLAZA_REGISTRATION: 'sometimes' });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain('PLAZA_PORT');
    expect(bad.stderr).toContain('PLAZA_REGISTRATION');

    writeFileSync(path.join(dataDir, 'secret'), 'changeme\n');
    const weak = plaza(['serve'], { PLAZA_DATA_DIR: dataDir });
    expect(weak.status).toBe(3);
    expect(weak.stderr).toMatch(/refusing to start/);

    const help = plaza(['--help'], {});
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('serve');
    expect(plaza(['frobnicate'], {}).status).toBe(2);
  });
});
