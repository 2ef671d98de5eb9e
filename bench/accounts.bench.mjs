// Accounts benchmarks (issue "Foundation and accounts", SPEC §11), each against a ceiling in the same run:
//   1. GET /api/users/me with a bearer token, 50 connections  vs  a bare Fastify hello route (target ≥ 40 %)
//   2. logins/s with argon2id at the configured parameters     (target ≥ 100/s on 2 cores), beside bare argon2id verifications/s
//   3. cold start to ready on an existing database             (target ≤ 1 s), beside a bare `node -e` start
// Usage: npm run bench:accounts  [ROUNDS=3 DURATION=5]
import { spawnSync } from 'node:child_process';
import { hash, verify } from '@node-rs/argon2';
import { json, load, median, startProcess, tempDir } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const MAIN = new URL('../dist/plaza.mjs', import.meta.url).pathname;
const PASSWORD = 'bench-password-1';

const dataDir = tempDir();
const plazaEnv = {
  PLAZA_DATA_DIR: dataDir,
  PLAZA_PORT: '0',
  PLAZA_LOG_LEVEL: process.env.PLAZA_LOG_LEVEL ?? 'warn',
  PLAZA_RATE_LOGIN_IP: '1000000/1m',
  PLAZA_RATE_LOGIN_FAIL_IP: '1000000/1m',
  PLAZA_RATE_LOGIN_ACCOUNT_IP: '1000000/1m',
  PLAZA_RATE_LOGIN_ACCOUNT: '1000000/1m',
  PLAZA_ADMIN_USERNAME: 'bench',
  PLAZA_ADMIN_PASSWORD: PASSWORD,
};

const bare = await startProcess(
  [new URL('./bare-fastify.mjs', import.meta.url).pathname],
  {},
  /bare listening on (\d+)/,
);
const bareUrl = `http://127.0.0.1:${bare.match[1]}/hello`;
const plaza = await startProcess([MAIN, 'serve'], plazaEnv, /running at (\S+)/);
const base = plaza.match[1];
const login = await json(`${base}/api/auth/login`, 'POST', { identifier: 'bench', password: PASSWORD });
const auth = { authorization: `Bearer ${login.accessToken}` };

// Warm both up, then alternate rounds so machine noise hits both alike.
await load({ url: bareUrl, duration: 1 });
await load({ url: `${base}/api/users/me`, headers: auth, duration: 1 });
const bareRps = [];
const meRps = [];
const meP99 = [];
for (let i = 0; i < ROUNDS; i++) {
  bareRps.push((await load({ url: bareUrl, duration: DURATION })).rps);
  const me = await load({ url: `${base}/api/users/me`, headers: auth, duration: DURATION });
  if (me.non2xx || me.errors) throw new Error(`users/me answered ${me.non2xx} non-2xx, ${me.errors} errors`);
  meRps.push(me.rps);
  meP99.push(me.p99);
}

// Logins: enough connections to keep the argon2 thread pool busy.
const loginRuns = [];
for (let i = 0; i < ROUNDS; i++) {
  const r = await load({
    url: `${base}/api/auth/login`,
    method: 'POST',
    connections: 8,
    duration: DURATION,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: 'bench', password: PASSWORD }),
  });
  if (r.non2xx || r.errors) throw new Error(`login answered ${r.non2xx} non-2xx, ${r.errors} errors`);
  loginRuns.push(r.rps);
}
await plaza.stop();
await bare.stop();

// Ceiling for logins: bare argon2id verifications/s at the same parameters, 8 at a time, no HTTP.
const argonCeiling = [];
const stored = await hash(PASSWORD, { algorithm: 2, memoryCost: 7168, timeCost: 5, parallelism: 1 });
for (let i = 0; i < ROUNDS; i++) {
  let n = 0;
  const end = performance.now() + DURATION * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      await verify(stored, PASSWORD);
      n++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  argonCeiling.push(n / DURATION);
}

// Cold start on the now-existing database: spawn → first 200 from /api/ready.
const starts = [];
const bareStarts = [];
for (let i = 0; i < Math.max(5, ROUNDS); i++) {
  const t0 = performance.now();
  const p = await startProcess([MAIN, 'serve'], plazaEnv, /running at (\S+)/);
  for (;;) {
    const r = await fetch(`${p.match[1]}/api/ready`).catch(() => undefined);
    if (r?.status === 200) break;
  }
  starts.push(performance.now() - t0);
  await p.stop();
  const b0 = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  bareStarts.push(performance.now() - b0);
}

const fmt = (n) => n.toFixed(0);
const ratio = median(meRps) / median(bareRps);
console.log('\nAccounts benchmark (medians of', ROUNDS, 'rounds,', DURATION, 's each, 50 connections)');
console.log(`  bare Fastify hello           ${fmt(median(bareRps))} req/s   rounds: ${bareRps.map(fmt).join(', ')}`);
console.log(
  `  GET /api/users/me (bearer)   ${fmt(median(meRps))} req/s   rounds: ${meRps.map(fmt).join(', ')}   p99 ${median(meP99)} ms`,
);
console.log(
  `  ratio                        ${(ratio * 100).toFixed(1)} %   (target ≥ 40 %)  ${ratio >= 0.4 ? 'PASS' : 'FAIL'}`,
);
console.log(
  `  logins/s (argon2id)          ${fmt(median(loginRuns))} /s     rounds: ${loginRuns.map(fmt).join(', ')}   (target ≥ 100)  ${median(loginRuns) >= 100 ? 'PASS' : 'FAIL'}`,
);
console.log(
  `  bare argon2id verify/s       ${fmt(median(argonCeiling))} /s     rounds: ${argonCeiling.map(fmt).join(', ')}   (logins at ${((median(loginRuns) / median(argonCeiling)) * 100).toFixed(0)} % of it)`,
);
console.log(
  `  cold start to ready          ${fmt(median(starts))} ms     runs: ${starts.map(fmt).join(', ')}   (target ≤ 1000)  ${median(starts) <= 1000 ? 'PASS' : 'FAIL'}`,
);
console.log(`  bare "node -e 0" start       ${fmt(median(bareStarts))} ms`);
