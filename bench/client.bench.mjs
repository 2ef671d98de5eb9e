// The plaza client against curl doing the same transfer on the same server (issue 17):
//   1. upload of a SIZE file (default 1 GiB): `plaza upload` vs curl (tus POST + one PATCH) — target ≤ 1.3×
//   2. download of it: `plaza download` (SHA-256 checked) vs curl GET — target ≤ 1.3×
//   3. `plaza whoami` cold start, median of RUNS, beside `node -e 0` — target ≤ 150 ms
// Transfers: medians of ROUNDS rounds (plaza and curl take turns going first); the ratio is of the
// medians, with each round's own ratio beside it (a shared machine is noisy).
// Usage: npm run bench:client   [SIZE_MB=1024 RUNS=15 ROUNDS=4]
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { json, median, startProcess, tempDir } from './lib.mjs';

const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 15);
// Even: each side goes first as often as the other.
const ROUNDS = Number(process.env.ROUNDS ?? 4);
// PLAZA_MAIN: another build's plaza.mjs (to compare before/after a change).
const MAIN = process.env.PLAZA_MAIN ?? new URL('../dist/plaza.mjs', import.meta.url).pathname;
const root = tempDir('plaza-client-bench-');
const env = { HOME: root, XDG_CONFIG_HOME: path.join(root, 'config'), XDG_CACHE_HOME: path.join(root, 'cache') };

async function writeFile(file, size) {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  const out = createWriteStream(file);
  for (let done = 0; done < size; done += block.length) {
    if (!out.write(done + block.length <= size ? block : block.subarray(0, size - done))) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}

/** CPU seconds (user + system) used by this process's finished children: /proc/self/stat's cutime + cstime. */
const childrenCpu = () => {
  const rest = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(rest[13]) + Number(rest[14])) / 100;
};
const cpu = { curlUp: [], plazaUp: [], curlDown: [], plazaDown: [] };
/** Wall seconds of fn; with `into`, the CPU its child processes used goes to cpu[into]. */
const seconds = (fn, into) => {
  // Each transfer starts on a quiet disk: the last one's gigabyte is written back first, not during it.
  if (into) execFileSync('sync');
  const c = childrenCpu();
  const t = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  if (into) cpu[into].push(Number((childrenCpu() - c).toFixed(2)));
  return wall;
};
const plaza = (args, input) => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env, PLAZA_SERVER: base }, input, encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`plaza ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const server = await startProcess([MAIN, 'serve'], { PLAZA_DATA_DIR: path.join(root, 'data'), PLAZA_PORT: '0', PLAZA_HOST: '127.0.0.1', PLAZA_LOG_LEVEL: 'warn' }, /running at (\S+)/);
const base = server.match[1];
try {
  plaza(['register', 'bench', '--password-stdin'], 'bench-password-1');
  const file = path.join(root, 'big.bin');
  await writeFile(file, SIZE);
  const { accessToken } = await json(`${base}/api/auth/login`, 'POST', { identifier: 'bench', password: 'bench-password-1' });
  const auth = `Authorization: Bearer ${accessToken}`;

  // The cold start first: after gigabytes of transfers the disk is still writing them back, and starting node waits on it.
  const whoami = [];
  const bare = [];
  for (let i = 0; i < RUNS; i++) {
    whoami.push(seconds(() => plaza(['whoami'])) * 1000);
    bare.push(seconds(() => spawnSync(process.execPath, ['-e', '0'])) * 1000);
  }
  const curlUploadOnce = () => {
    const head = execFileSync('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-X', 'POST', '-H', auth, '-H', 'Tus-Resumable: 1.0.0', '-H', `Upload-Length: ${SIZE}`, '-H', `Upload-Metadata: filename ${Buffer.from('curl.bin').toString('base64')}`, `${base}/api/files/tus`], { encoding: 'utf8' });
    const location = /location: (\S+)/i.exec(head)?.[1];
    execFileSync('curl', ['-sS', '-o', '/dev/null', '-X', 'PATCH', '-H', auth, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', '-H', 'Expect:', '-T', file, new URL(location, base).href]);
  };
  // ROUNDS rounds, plaza and curl taking turns to go first (the page cache favours the second).
  const t = { curlUp: [], plazaUp: [], curlDown: [], plazaDown: [] };
  mkdirSync(path.join(root, 'dl'));
  for (let round = 0; round < ROUNDS; round++) {
    let uploaded;
    const plazaUp = () => t.plazaUp.push(seconds(() => {
      uploaded = JSON.parse(plaza(['upload', file, '--json'])).files[0];
    }, 'plazaUp'));
    const curlUp = () => t.curlUp.push(seconds(curlUploadOnce, 'curlUp'));
    if (round % 2) { curlUp(); plazaUp(); } else { plazaUp(); curlUp(); }
    const curlDown = () => t.curlDown.push(seconds(() => execFileSync('curl', ['-sS', '-o', path.join(root, 'curl.out'), '-H', auth, `${base}/api/files/${uploaded.id}/content`]), 'curlDown'));
    const plazaDown = () => t.plazaDown.push(seconds(() => plaza(['download', uploaded.id, '-o', path.join(root, 'dl'), '--force', '--json']), 'plazaDown'));
    // An untimed read first: the first download of a just-uploaded file was 3-6x slower than the
    // next one whoever made it (the server's and the disk's after-upload work), which favoured
    // whichever side went second.
    execFileSync('curl', ['-sS', '-o', '/dev/null', '-H', auth, `${base}/api/files/${uploaded.id}/content`]);
    if (round % 2) { plazaDown(); curlDown(); } else { curlDown(); plazaDown(); }
    // Room for the next round (the quota, the disk): every file goes.
    const { files } = await (await fetch(`${base}/api/files?limit=500`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
    for (const f of files) await fetch(`${base}/api/files/${f.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` } });
    rmSync(path.join(root, 'curl.out'), { force: true });
  }

  const ratio = (a, b) => Number((a / b).toFixed(2));
  const pairRatios = (a, b) => a.map((x, i) => ratio(x, b[i]));
  // CPU seconds beside the wall time: on a machine shared with other work, the wall time of the one
  // that needs more CPU stretches most; its CPU is the steadier figure.
  const line = (p, c, pc, cc) => ({
    plazaS: median(p), curlS: median(c), ratio: ratio(median(p), median(c)), perRound: pairRatios(p, c), target: 1.3,
    cpuS: { plaza: median(pc), curl: median(cc) },
  });
  console.log(JSON.stringify({
    sizeMiB: SIZE / 1024 / 1024,
    rounds: ROUNDS,
    upload: line(t.plazaUp, t.curlUp, cpu.plazaUp, cpu.curlUp),
    download: line(t.plazaDown, t.curlDown, cpu.plazaDown, cpu.curlDown),
    whoamiColdStartMs: { median: Math.round(median(whoami)), nodeBareMs: Math.round(median(bare)), target: 150 },
  }, null, 2));
} finally {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
