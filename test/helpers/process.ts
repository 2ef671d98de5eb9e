import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { tmpdir } from 'node:os';

export const MAIN = path.resolve('dist/plaza.mjs');

export interface Served {
  child: ChildProcess;
  url: string;
  port: number;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** Runs the built `plaza serve` as a separate process and waits until it prints its URL. */
export async function serveProcess(env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', PLAZA_PORT: '0', ...env },
    cwd: path.dirname(env.PLAZA_DATA_DIR ?? tmpdir()),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (!/running at (\S+)/.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  // The banner's remaining lines (setup link…) follow the URL line.
  await new Promise((r) => setTimeout(r, 150));
  const url = /running at (\S+)/.exec(err)?.[1] ?? '';
  return { child, url, port: Number(new URL(url).port), stderr: () => err, stdout: () => out, exited };
}
