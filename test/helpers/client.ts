import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAIN } from './process.js';

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A user of the `plaza` client: their own HOME and XDG dirs, a default server, no terminal. */
export interface ClientUser {
  home: string;
  configDir: string;
  cacheDir: string;
  env: Record<string, string>;
  /** Runs the built `plaza` with these arguments (stdin from `input`), asynchronously. */
  run(args: string[], o?: { input?: string; env?: Record<string, string>; cwd?: string }): Promise<Run>;
  /** Starts `plaza` and hands back the child (to kill it mid-way). */
  start(args: string[], o?: { cwd?: string; openStdin?: boolean }): { child: ChildProcess; done: Promise<Run> };
  cleanup(): void;
}

function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export function clientUser(server?: string): ClientUser {
  const home = mkdtempSync(path.join(tmpdir(), 'plaza-client-'));
  const configDir = path.join(home, 'config');
  const cacheDir = path.join(home, 'cache');
  mkdirSync(path.join(home, 'work'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: configDir,
    XDG_CACHE_HOME: cacheDir,
    ...(server ? { PLAZA_SERVER: server } : {}),
  };
  const start = (args: string[], o: { input?: string; env?: Record<string, string>; cwd?: string; openStdin?: boolean } = {}) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...env, ...o.env },
      cwd: o.cwd ?? path.join(home, 'work'),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // stdin ends at once (no terminal, nothing typed) unless the test types into it.
    if (!o.openStdin) child.stdin?.end(o.input ?? '');
    return { child, done: collect(child) };
  };
  return {
    home,
    configDir,
    cacheDir,
    env,
    run: (args, o = {}) => start(args, o).done,
    start: (args, o = {}) => start(args, o),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}

/** The one JSON line a --json command prints on stdout. */
export function jsonOf(r: Run): any {
  const lines = r.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one JSON line, got: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(lines[0] as string);
}

/** A profile written by hand for a stand-in server: logged in as `username` with this access token for an hour. */
export function stubProfile(u: ClientUser, server: string, username: string, accessToken: string): void {
  const far = Date.now() + 3600_000;
  mkdirSync(path.join(u.configDir, 'plaza'), { recursive: true });
  writeFileSync(
    path.join(u.configDir, 'plaza', 'profile.json'),
    JSON.stringify({ server, username, userId: 1, refreshToken: 'r', refreshTokenExpiresAt: far, accessToken, accessTokenExpiresAt: far }),
    { mode: 0o600 },
  );
}
