// Shared helpers for benchmarks: child-process servers, autocannon runs, medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function tempDir(prefix = 'plaza-bench-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Starts a child process and resolves when `ready` matches its stderr+stdout. */
export function startProcess(args, env, ready, cwd = process.cwd()) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve({ child, match: m, stop: () => stop(child) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`process exited (${code}) before ready:\n${out}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

export async function load(opts) {
  const result = await autocannon({ connections: 50, duration: 5, ...opts });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors };
}

export async function json(url, method, body, headers = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return res.json();
}

/** CPU seconds a process has used (user + system). */
export function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

/** CPU seconds the whole machine has been busy (all cores). */
export function machineBusy() {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return (total - v[3] - v[4]) / 100;
}

export function topFunctions(dir, n = 25) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const lines = [];
  for (const f of files) {
    const prof = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    const byId = new Map(prof.nodes.map((node) => [node.id, node]));
    const self = new Map();
    const dt = prof.timeDeltas;
    let total = 0;
    for (let i = 0; i < prof.samples.length; i++) {
      const node = byId.get(prof.samples[i]);
      const d = dt[i] ?? 0;
      total += d;
      const cf = node.callFrame;
      const key = `${cf.functionName || '(anonymous)'}  ${cf.url ? `${path.basename(cf.url)}:${cf.lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + d);
    }
    lines.push(`  profile ${path.join(dir, f)}  (${(total / 1e6).toFixed(1)} s sampled)`);
    const idle = self.get('(idle)  ') ?? 0;
    const busy = total - idle;
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      lines.push(`   ${((v / total) * 100).toFixed(1).padStart(5)} % total  ${k === '(idle)  ' ? '' : `${((v / busy) * 100).toFixed(1).padStart(5)} % busy`}  ${k}`);
    }
  }
  return lines.join('\n');
}
