// The plaza client against curl doing the same transfer on the same server (issue 17):
//   1. upload of a SIZE file (default 1 GiB): `plaza upload` vs curl (tus POST + one PATCH) — target ≤ 1.3×
//   2. download of it: `plaza download` (SHA-256 checked) vs curl GET — target ≤ 1.3×
//   3. `plaza whoami` cold start, median of RUNS, beside `node -e 0` — target ≤ 150 ms
// Usage: npm run bench:client   [SIZE_MB=1024 RUNS=15]
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { json, median, startProcess, tempDir } from './lib.mjs';

const SIZE = Number(process.env.SIZE_MB ?? 1024) * 1024 * 1024;
const RUNS = Number(process.env.RUNS ?? 15);
const MAIN = new URL('../dist/plaza.mjs', import.meta.url).pathname;
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

const seconds = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
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

  const curlUpload = seconds(() => {
    const head = execFileSync('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-X', 'POST', '-H', auth, '-H', 'Tus-Resumable: 1.0.0', '-H', `Upload-Length: ${SIZE}`, '-H', `Upload-Metadata: filename ${Buffer.from('curl.bin').toString('base64')}`, `${base}/api/files/tus`], { encoding: 'utf8' });
    const location = /location: (\S+)/i.exec(head)?.[1];
    execFileSync('curl', ['-sS', '-o', '/dev/null', '-X', 'PATCH', '-H', auth, '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', '-H', 'Expect:', '-T', file, new URL(location, base).href]);
  });
  let uploaded;
  const plazaUpload = seconds(() => {
    uploaded = JSON.parse(plaza(['upload', file, '--json'])).files[0];
  });
  const curlDownload = seconds(() => execFileSync('curl', ['-sS', '-o', path.join(root, 'curl.out'), '-H', auth, `${base}/api/files/${uploaded.id}/content`]));
  mkdirSync(path.join(root, 'dl'));
  const plazaDownload = seconds(() => plaza(['download', uploaded.id, '-o', path.join(root, 'dl'), '--json']));

  const whoami = [];
  const bare = [];
  for (let i = 0; i < RUNS; i++) {
    whoami.push(seconds(() => plaza(['whoami'])) * 1000);
    bare.push(seconds(() => spawnSync(process.execPath, ['-e', '0'])) * 1000);
  }
  const ratio = (a, b) => Number((a / b).toFixed(2));
  console.log(JSON.stringify({
    sizeMiB: SIZE / 1024 / 1024,
    upload: { plazaS: plazaUpload, curlS: curlUpload, ratio: ratio(plazaUpload, curlUpload), target: 1.3 },
    download: { plazaS: plazaDownload, curlS: curlDownload, ratio: ratio(plazaDownload, curlDownload), target: 1.3 },
    whoamiColdStartMs: { median: Math.round(median(whoami)), nodeBareMs: Math.round(median(bare)), target: 150 },
  }, null, 2));
} finally {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
