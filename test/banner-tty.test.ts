import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from './helpers/api.js';
import { MAIN } from './helpers/process.js';

/**
 * The start banner on a terminal: plain text on stderr, never on stdout (where the JSON logs go).
 * Without a terminal it is one JSON line (test/cli.test.ts). util-linux `script` gives the server a
 * pseudo-terminal; stdout is sent to a file inside it, so the terminal shows stderr alone.
 */
const hasScript = spawnSync('script', ['--version']).status === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'plaza-banner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(hasScript)('the start banner on a terminal', () => {
  it('is plain lines on stderr; stdout holds only JSON log lines', async () => {
    const stdoutFile = path.join(dir, 'stdout.log');
    const child = spawn('script', ['-qfec', `${process.execPath} ${MAIN} serve > ${stdoutFile}`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', PLAZA_DATA_DIR: path.join(dir, 'data'), PLAZA_PORT: '0', PLAZA_HOST: '127.0.0.1', PLAZA_LOG_LEVEL: 'info' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let terminal = '';
    child.stdout.on('data', (d: Buffer) => (terminal += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    const deadline = Date.now() + 20_000;
    while (!/Plaza is running at (\S+)/.test(terminal) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const url = /Plaza is running at (\S+)/.exec(terminal)?.[1] ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // A request, so that something is logged on stdout meanwhile.
    expect((await api(url, 'GET', '/api/health')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.write('\x03'); // Ctrl-C on the terminal: SIGINT to the server
    await exited;

    const lines = terminal.split(/\r?\n/).filter((l) => l.trim() !== '');
    expect(lines.some((l) => l.startsWith('Plaza is running at '))).toBe(true);
    expect(lines.some((l) => l.startsWith('No admin exists yet'))).toBe(true);
    // Plain text on the terminal: no JSON record of the banner.
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
    const logged = readFileSync(stdoutFile, 'utf8').split('\n').filter((l) => l !== '');
    expect(logged.length).toBeGreaterThan(0);
    for (const l of logged) expect(() => JSON.parse(l)).not.toThrow();
    expect(logged.join('\n')).not.toContain('Plaza is running');
  }, 40_000);
});
