import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from '../helpers/api.js';
import { clientUser, type ClientUser } from '../helpers/client.js';
import { testDatabases } from '../helpers/databases.js';
import { freePort, startCluster, type TestCluster } from './cluster-helpers.js';

const NGINX = process.env.PLAZA_TEST_NGINX ?? '/usr/sbin/nginx';

function nginxAvailable(): boolean {
  try {
    execFileSync(NGINX, ['-v'], { stdio: 'ignore' });
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error('nginx and redis-server are required in CI (.ci/run installs them)');
    console.warn('SKIPPING the nginx test: nginx or redis-server is not installed. It runs in CI.');
    return false;
  }
}
const ready = (await testDatabases()).includes('postgres') && nginxAvailable();

/**
 * docs/deployment.md followed as written: its nginx block (only the upstream addresses, the listen
 * line and TLS changed for a test) in front of two instances, round-robin, no sticky sessions; two
 * people use the `plaza` client through it.
 */
function configFromGuide(ports: number[], listen: number, prefix: string): string {
  const guide = readFileSync(path.resolve('docs/deployment.md'), 'utf8');
  const block = /```nginx\n([\s\S]*?)```/.exec(guide)?.[1];
  if (!block) throw new Error('docs/deployment.md has no nginx block');
  const site = block
    .replace(/upstream plaza \{[\s\S]*?\}/, `upstream plaza {\n${ports.map((p) => `    server 127.0.0.1:${p};`).join('\n')}\n}`)
    .replace(/listen 443 ssl;/, `listen 127.0.0.1:${listen};`)
    .replace(/server_name .*;/, 'server_name localhost;');
  return `pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
${site}
}
`;
}

describe.skipIf(!ready)('two instances behind nginx (docs/deployment.md)', () => {
  let cluster: TestCluster;
  let nginx: ChildProcess;
  let prefix: string;
  let front: string;
  const users: ClientUser[] = [];

  beforeAll(async () => {
    cluster = await startCluster(2, { PLAZA_TRUST_PROXY: '1', PLAZA_LOG_LEVEL: 'info' });
    prefix = mkdtempSync(path.join(tmpdir(), 'plaza-nginx-'));
    const listen = await freePort();
    const conf = path.join(prefix, 'nginx.conf');
    writeFileSync(conf, configFromGuide(cluster.instances.map((s) => s.port), listen, prefix));
    execFileSync(NGINX, ['-t', '-p', prefix, '-c', conf], { stdio: 'pipe' });
    nginx = spawn(NGINX, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
    front = `http://127.0.0.1:${listen}`;
    const deadline = Date.now() + 10_000;
    while (!(await fetch(`${front}/api/health`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`nginx did not come up: ${readFileSync(path.join(prefix, 'error.log'), 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
  afterAll(async () => {
    nginx?.kill('SIGTERM');
    for (const u of users) u.cleanup();
    await cluster?.close();
    if (prefix) rmSync(prefix, { recursive: true, force: true });
  });

  it('balances round-robin over both instances, and `plaza chat` hears `plaza send` whichever instance each lands on', async () => {
    for (let i = 0; i < 6; i++) expect((await fetch(`${front}/api/health?probe=${i}`)).status).toBe(200);
    for (const s of cluster.instances) expect(s.stdout()).toMatch(/\/api\/health\?probe=\d/);

    const mk = async (name: string) => {
      const u = clientUser(front);
      users.push(u);
      const r = await u.run(['register', name, '--password-stdin'], { input: PASSWORD });
      expect(r.code, r.stderr).toBe(0);
      return u;
    };
    const quin = await mk('quin');
    const rae = await mk('rae');
    const profile = JSON.parse(readFileSync(path.join(quin.configDir, 'plaza', 'profile.json'), 'utf8'));
    const made = await api(front, 'POST', '/api/chat/rooms', { token: profile.accessToken, json: { name: 'hall' } });
    expect(made.status).toBe(201);
    const listener = quin.start(['chat', 'hall'], { openStdin: true });
    let out = '';
    let err = '';
    listener.child.stdout?.on('data', (d) => (out += d));
    listener.child.stderr?.on('data', (d) => (err += d));
    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; out:\n${out}\nerr:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => out.includes('* connected as quin'), 'connected');
    // Sends go through nginx one request after another, so they land on both instances.
    for (let i = 1; i <= 4; i++) {
      const r = await rae.run(['send', 'hall', `hello ${i}`]);
      expect(r.code, r.stderr).toBe(0);
    }
    await until(() => [1, 2, 3, 4].every((i) => out.includes(`<rae> hello ${i}`)), 'all four messages');
    const order = [1, 2, 3, 4].map((i) => out.indexOf(`<rae> hello ${i}`));
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    listener.child.stdin?.end();
    expect((await listener.done).code).toBe(0);
  }, 60_000);
});
