// The `plaza` client's account verbs and its failures, as a user meets them: the built binary as a
// child process (no terminal) against a real server, HOME and XDG dirs pointed at temp dirs.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser, jsonOf } from './helpers/client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;
const users: ClientUser[] = [];
const user = (s: string | null = base) => {
  const u = clientUser(s ?? undefined);
  users.push(u);
  return u;
};
const profileOf = (u: ClientUser) => path.join(u.configDir, 'plaza', 'profile.json');
const readProfile = (u: ClientUser) => JSON.parse(readFileSync(profileOf(u), 'utf8'));

beforeAll(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  for (const u of users) u.cleanup();
  await server.close();
});

describe('plaza register / login / whoami / logout', () => {
  it('register logs in; the profile is 0600, atomic, and never holds the password', async () => {
    const u = user();
    const r = await u.run(['register', 'carol', '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Registered carol');
    expect(statSync(profileOf(u)).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(profileOf(u))).mode & 0o077).toBe(0);
    const text = readFileSync(profileOf(u), 'utf8');
    expect(text).not.toContain(PASSWORD);
    expect(JSON.parse(text)).toMatchObject({ server: base, username: 'carol', refreshToken: expect.any(String) });

    const who = await u.run(['whoami']);
    expect(who.code).toBe(0);
    expect(who.stdout).toBe(`carol on ${base}\n`);
    const whoJson = jsonOf(await u.run(['whoami', '--json']));
    expect(whoJson).toMatchObject({ user: { username: 'carol', role: 'user' }, server: base, accessKey: { active: false } });
  });

  it('register --json: the user and server as one line; a taken name is one sentence (exit 5), also as JSON', async () => {
    const u = user();
    const r = jsonOf(await u.run(['register', 'quentin', '--password-stdin', '--json'], { input: PASSWORD }));
    expect(r).toMatchObject({ user: { username: 'quentin' }, server: base });
    const taken = await user().run(['register', 'quentin', '--password-stdin', '--json'], { input: PASSWORD });
    expect(taken.code).toBe(5);
    expect(jsonOf(taken).error.code).toMatch(/TAKEN|CONFLICT|EXISTS/);
    expect(taken.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const bad = await user().run(['register', '../<script>', '--password-stdin'], { input: PASSWORD });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).not.toMatch(/at .+\.m?js:\d+/);
    expect(bad.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('login: a wrong password is one line and exit 6; no terminal and no --password-stdin is exit 2', async () => {
    const u = user();
    await api(base, 'POST', '/api/auth/register', { json: { username: 'dave', password: PASSWORD } });
    const wrong = await u.run(['login', 'dave', '--password-stdin'], { input: 'not-the-password\n' });
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toBe('Incorrect username, email or password.\n');
    expect(wrong.stdout).toBe('');
    const wrongJson = await u.run(['login', 'dave', '--password-stdin', '--json'], { input: 'nope-nope-nope\n' });
    expect(wrongJson.code).toBe(6);
    expect(jsonOf(wrongJson)).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: expect.any(String) } });
    const noTty = await u.run(['login', 'dave']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('--password-stdin');
    const ok = await u.run(['login', 'dave', '--password-stdin', '--json'], { input: PASSWORD });
    expect(ok.code).toBe(0);
    expect(jsonOf(ok)).toMatchObject({ user: { username: 'dave' }, server: base });
  });

  it('an expired access token is renewed with the refresh token, which rotates and is saved', async () => {
    const u = user();
    await u.run(['register', 'erin', '--password-stdin'], { input: PASSWORD });
    const before = readProfile(u);
    writeFileSync(profileOf(u), JSON.stringify({ ...before, accessTokenExpiresAt: Date.now() - 1000 }), { mode: 0o600 });
    const who = await u.run(['whoami']);
    expect(who.code).toBe(0);
    const after = readProfile(u);
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessTokenExpiresAt).toBeGreaterThan(Date.now());
    expect(statSync(profileOf(u)).mode & 0o777).toBe(0o600);
    // The old refresh token is spent.
    const reuse = await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: before.refreshToken } });
    expect(reuse.status).toBe(401);
  });

  it('a forged access token is renewed; a forged refresh token too means "log in again" (exit 6)', async () => {
    const u = user();
    await u.run(['register', 'frank', '--password-stdin'], { input: PASSWORD });
    const p = readProfile(u);
    writeFileSync(profileOf(u), JSON.stringify({ ...p, accessToken: 'forged.token.here' }), { mode: 0o600 });
    expect((await u.run(['whoami'])).code).toBe(0);
    writeFileSync(profileOf(u), JSON.stringify({ ...readProfile(u), accessToken: 'forged', refreshToken: 'forged-refresh' }), { mode: 0o600 });
    const r = await u.run(['whoami']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/expired or was revoked\. Log in again with `plaza login`\.\n$/);
    expect(r.stderr).not.toContain('    at ');
  });

  it('a session revoked elsewhere (the profile still there): "log in again", exit 6', async () => {
    const u = user();
    await u.run(['register', 'rita', '--password-stdin'], { input: PASSWORD });
    const p = readProfile(u);
    expect((await api(base, 'POST', '/api/auth/logout', { headers: { authorization: `Bearer ${p.accessToken}` } })).status).toBe(200);
    const r = await u.run(['whoami']);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe(`Your session on ${base} has expired or was revoked. Log in again with \`plaza login\`.\n`);
  });

  it('logout revokes the session on the server and forgets the profile', async () => {
    const u = user();
    await u.run(['register', 'gina', '--password-stdin'], { input: PASSWORD });
    const p = readProfile(u);
    const out = await u.run(['logout']);
    expect(out.code).toBe(0);
    expect(() => statSync(profileOf(u))).toThrow();
    expect((await api(base, 'POST', '/api/auth/refresh', { json: { refreshToken: p.refreshToken } })).status).toBe(401);
    expect((await api(base, 'GET', '/api/auth/me', { headers: { authorization: `Bearer ${p.accessToken}` } })).status).toBe(401);
    const who = await u.run(['whoami']);
    expect(who.code).toBe(6);
    expect(who.stderr).toContain('Run `plaza login` first');
    expect(jsonOf(await u.run(['logout', '--json']))).toEqual({ ok: true, revoked: false });
  });

  it('privilege: the key and its expiry; asked again, "already elevated until …" and exit 5', async () => {
    const u = user();
    await u.run(['register', 'hank', '--password-stdin'], { input: PASSWORD });
    const first = await u.run(['privilege', '--json']);
    expect(first.code).toBe(0);
    const { expiresAt } = jsonOf(first);
    expect(expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    const again = await u.run(['privilege']);
    expect(again.code).toBe(5);
    expect(again.stderr).toBe(`Already elevated until ${new Date(expiresAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}.\n`);
    expect((await u.run(['whoami'])).stdout).toContain('elevated until');
  });
});

describe('plaza --profile', () => {
  it('keeps one login per named profile, each 0600; a bad name is exit 2', async () => {
    const u = user();
    await u.run(['register', 'kate', '--password-stdin'], { input: PASSWORD });
    await u.run(['register', 'liam', '--password-stdin', '--profile', 'work'], { input: PASSWORD });
    expect((await u.run(['whoami'])).stdout).toBe(`kate on ${base}\n`);
    expect((await u.run(['whoami', '--profile', 'work'])).stdout).toBe(`liam on ${base}\n`);
    expect(statSync(path.join(u.configDir, 'plaza', 'profile-work.json')).mode & 0o777).toBe(0o600);
    expect((await u.run(['whoami', '--profile', '../x'])).code).toBe(2);
    expect((await u.run(['whoami', '--profile', 'nobody'])).code).toBe(6);
  });
});

describe('plaza client: bad configuration and an unreachable server', () => {
  it('a profile readable by others is refused with the fix (exit 3); a corrupt one too', async () => {
    const u = user();
    await u.run(['register', 'ivan', '--password-stdin'], { input: PASSWORD });
    chmodSync(profileOf(u), 0o644);
    const loose = await u.run(['whoami']);
    expect(loose.code).toBe(3);
    expect(loose.stderr).toContain(`chmod 600 ${profileOf(u)}`);
    writeFileSync(profileOf(u), '{"server": "http://x", ', { mode: 0o600 });
    chmodSync(profileOf(u), 0o600);
    const corrupt = await u.run(['whoami', '--json']);
    expect(corrupt.code).toBe(3);
    expect(jsonOf(corrupt).error.code).toBe('PROFILE_CORRUPT');
  });

  it('server down: "Cannot reach …" and exit 7; no server at all: exit 2; a bad URL: exit 2', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const down = `http://127.0.0.1:${port}`;
    const u = user(down);
    const r = await u.run(['login', 'x', '--password-stdin'], { input: PASSWORD });
    expect(r.code).toBe(7);
    expect(r.stderr).toBe(`Cannot reach ${down}: the connection was refused. Is the server running, and is the URL right?\n`);
    const j = await u.run(['login', 'x', '--password-stdin', '--json'], { input: PASSWORD });
    expect(jsonOf(j)).toEqual({ error: { code: 'UNREACHABLE', message: expect.stringContaining('Cannot reach') } });

    // Logged in, then the server goes away: the saved profile's server is reported.
    const v = user();
    await v.run(['register', 'judy', '--password-stdin'], { input: PASSWORD });
    writeFileSync(profileOf(v), JSON.stringify({ ...readProfile(v), server: down }), { mode: 0o600 });
    const gone = await v.run(['files'], { env: { PLAZA_SERVER: '' } });
    expect(gone.code).toBe(7);
    expect(gone.stderr).toContain(`Cannot reach ${down}`);

    const none = user(null);
    const n = await none.run(['whoami']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('--server URL');
    const bad = await none.run(['whoami', '--server', 'ftp://example.com']);
    expect(bad.code).toBe(2);
  });

  it('TLS: a self-signed certificate, https to a plain-HTTP port, and an unknown host are each one sentence, exit 7', async () => {
    const u = user(null);
    const { execFileSync } = await import('node:child_process');
    const key = path.join(u.home, 'key.pem');
    const cert = path.join(u.home, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const { createServer: createHttps } = await import('node:https');
    const tls = createHttps({ key: readFileSync(key), cert: readFileSync(cert) }, (_q, r) => r.end('{}'));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const a = tls.address();
    try {
      const selfSigned = await u.run(['login', 'x', '--password-stdin', '--server', `https://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`], { input: PASSWORD });
      expect(selfSigned.code).toBe(7);
      expect(selfSigned.stderr).toMatch(/^Cannot reach https:\/\/127\.0\.0\.1:\d+: a TLS error \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)\. Check the certificate, or the URL's http\/https\.\n$/);
    } finally {
      tls.close();
    }
    const wrongScheme = await u.run(['login', 'x', '--password-stdin', '--server', base.replace('http:', 'https:')], { input: PASSWORD });
    expect(wrongScheme.code).toBe(7);
    expect(wrongScheme.stderr).toContain('a TLS error');
    const unknownHost = await u.run(['login', 'x', '--password-stdin', '--server', 'http://no-such-host.invalid'], { input: PASSWORD });
    expect(unknownHost.code).toBe(7);
    expect(unknownHost.stderr).toContain('no such host');
  });

  it('a URL that is not Plaza is said so; unknown options are usage errors (exit 2)', async () => {
    const u = user(`${base}/nothing-here`);
    const r = await u.run(['login', 'x', '--password-stdin'], { input: PASSWORD });
    expect(r.code).not.toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const unknown = await user().run(['files', '--bogus']);
    expect(unknown.code).toBe(2);
  });
});

describe('plaza completion', () => {
  it('bash: completes verbs and a verb\'s options when sourced; zsh and fish scripts; another shell is exit 2', async () => {
    const u = user(null);
    const script = await u.run(['completion', 'bash']);
    expect(script.code).toBe(0);
    const file = path.join(u.home, 'plaza.bash');
    writeFileSync(file, script.stdout);
    const { spawnSync } = await import('node:child_process');
    const complete = (...words: string[]) =>
      spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _plaza; printf '%s\\n' "\${COMPREPLY[@]}"`], {
        encoding: 'utf8',
      }).stdout.trim().split('\n');
    expect(complete('plaza', 'up')).toEqual(['upload']);
    expect(complete('plaza', 'download', '--')).toEqual(expect.arrayContaining(['--output', '--force', '--server', '--json']));
    expect(complete('plaza', 'admin', 'cr')).toEqual(['create']);
    expect((await u.run(['completion', 'zsh'])).stdout).toContain('#compdef plaza');
    expect((await u.run(['completion', 'fish'])).stdout).toContain("complete -c plaza -n '__fish_use_subcommand' -a 'upload'");
    expect((await u.run(['completion', 'tcsh'])).code).toBe(2);
  });
});
