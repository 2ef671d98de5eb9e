// plaza chat on a real terminal: two users in tmux panes (send-keys to type, capture-pane to read
// the screen), the full-screen view (history above, a status bar, the input line below), presence
// and join/leave lines, /who /dm /leave /join /quit, and a server restart replayed without gaps or
// duplicates, a message typed while the server was down resent once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, PASSWORD } from './helpers/api.js';
import { type ClientUser, clientUser } from './helpers/client.js';
import { MAIN, serveProcess } from './helpers/process.js';

// One tmux server of this test's own (-L): never another program's sessions.
const SOCKET = `plaza-chat-test-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
// CI installs tmux (.ci/run): there a missing tmux fails the test instead of skipping it.
const hasTmux = spawnSync('tmux', ['-V']).status === 0 || process.env.CI === 'true';
const users: ClientUser[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'plaza-chat-screen-'));

afterAll(() => {
  tmux('kill-server');
  for (const u of users) u.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `plaza chat …` for this user in a tmux session of 100×32; its exit code lands in a file. */
function openChat(u: ClientUser, name: string, args: string[]) {
  const env = Object.entries(u.env).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ');
  const codeFile = path.join(work, `${name}.code`);
  const cmd = `env -i ${env} TERM=xterm-256color ${shellQuote(process.execPath)} ${shellQuote(MAIN)} ${args.map(shellQuote).join(' ')}; echo $? > ${shellQuote(codeFile)}`;
  const r = tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '32', cmd);
  if (r.status !== 0) throw new Error(`tmux: ${r.stderr}`);
  return {
    screen: () => tmux('capture-pane', '-p', '-t', name).stdout,
    type: (text: string) => tmux('send-keys', '-t', name, '-l', text),
    enter: () => tmux('send-keys', '-t', name, 'Enter'),
    code: () => (existsSync(codeFile) ? Number(readFileSync(codeFile, 'utf8').trim()) : undefined),
  };
}
type Pane = ReturnType<typeof openChat>;

async function until(check: () => boolean, what: string, panes: Pane[], ms = 15_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${panes.map((p) => p.screen()).join('\n----\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const count = (screen: string, text: string) => screen.split(text).length - 1;
const rows = (screen: string) => screen.replace(/\n$/, '').split('\n');

describe.runIf(hasTmux)('plaza chat in a terminal (tmux)', () => {
  it('two users talk; typing is never torn by arriving lines; presence, /who /dm /leave /join; a restart replayed once, in order', async () => {
    const dataDir = path.join(work, 'data');
    const env = { PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent', PLAZA_DISK_RESERVE_BYTES: '65536', PLAZA_RATE_REGISTER_IP: '1000/1m' };
    let served = await serveProcess(env);
    try {
      const mk = async (name: string) => {
        const u = clientUser(served.url);
        users.push(u);
        expect((await u.run(['register', name, '--password-stdin'], { input: PASSWORD })).code).toBe(0);
        return u;
      };
      const ann = await mk('ann');
      const ben = await mk('ben');
      const cara = await mk('cara');
      const token = JSON.parse(readFileSync(path.join(ann.configDir, 'plaza', 'profile.json'), 'utf8')).accessToken;
      const room = await api(served.url, 'POST', '/api/chat/rooms', { json: { name: 'town' }, headers: { authorization: `Bearer ${token}` } });
      expect(room.status).toBe(201);

      const a = openChat(ann, 'ann', ['chat', 'town']);
      await until(() => a.screen().includes('* connected as ann; talking in #town'), "ann's greeting", [a]);
      const b = openChat(ben, 'ben', ['chat', 'town']);
      const both = [a, b];
      await until(() => b.screen().includes('* connected as ben'), "ben's greeting", both);
      await until(() => a.screen().includes('* ben joined #town'), 'presence at ann: ben joined', both);
      // The layout: a status bar on the row above the input line, the input line last.
      let screen = rows(a.screen());
      expect(screen.at(-1)).toBe('>');
      expect(screen.at(-2)).toMatch(/^ #town · ann · connected · \/help/);

      b.type('hello ann');
      b.enter();
      await until(() => a.screen().includes('<ben> hello ann'), "ben's message at ann", both);
      // Ann is halfway through a line when Ben's next message arrives: it goes above, her line stays whole.
      a.type('half typed');
      await until(() => rows(a.screen()).at(-1) === '> half typed', 'the typed text on the input line', both);
      b.type('second');
      b.enter();
      await until(() => a.screen().includes('<ben> second'), "ben's second line at ann", both);
      screen = rows(a.screen());
      expect(screen.at(-1)).toBe('> half typed');
      expect(screen.at(-2)).toMatch(/^ #town · ann · connected/);
      a.type(' and finished');
      a.enter();
      await until(() => b.screen().includes('<ann> half typed and finished'), "ann's line at ben", both);
      expect(rows(a.screen()).at(-1)).toBe('>');

      a.type('/who');
      a.enter();
      await until(() => /\* in #town: .*ann.*ben|\* in #town: .*ben.*ann/.test(a.screen()), '/who', both);

      // The server restarts: both reconnect; what Cara says meanwhile is replayed, what Ben typed while it was down goes once.
      served.child.kill('SIGTERM');
      await served.exited;
      await until(() => a.screen().includes('connection lost') && b.screen().includes('connection lost'), 'the drop seen by both', both);
      await until(() => /reconnecting/.test(rows(b.screen()).at(-2) ?? ''), "ben's bar says reconnecting", both);
      b.type('typed while down');
      b.enter();
      await until(() => / · 1 unsent/.test(rows(b.screen()).at(-2) ?? ''), "ben's bar counts the unsent message", both);
      served = await serveProcess({ ...env, PLAZA_PORT: String(served.port) });
      expect((await cara.run(['send', 'town', 'said during the reconnect'])).code).toBe(0);
      await until(
        () => [a, b].every((p) => p.screen().includes('<ben> typed while down') && p.screen().includes('<cara> said during the reconnect')),
        'replay and resend on both screens',
        both,
        30_000,
      );
      await until(() => count(a.screen(), '* reconnected') === 1 && / · connected/.test(rows(b.screen()).at(-2) ?? ''), 'reconnected', both);
      // No gaps, no duplicates: Ann's screen has every stored message once, in the server's order.
      const history = await api(served.url, 'GET', `/api/chat/rooms/${room.body.room.id}/messages`, { headers: { authorization: `Bearer ${token}` } });
      const stored = history.body.messages.map((m: { sender: { name: string }; body: string }) => `<${m.sender.name}> ${m.body}`);
      expect(stored.slice(0, 3)).toEqual(['<ben> hello ann', '<ben> second', '<ann> half typed and finished']);
      expect(stored.slice(3).sort()).toEqual(['<ben> typed while down', '<cara> said during the reconnect']);
      const seenAtAnn = rows(a.screen()).flatMap((l) => stored.filter((m: string) => l.endsWith(m)));
      expect(seenAtAnn).toEqual(stored);

      // A direct message, then leave and join again: join/leave lines on both sides.
      a.type('/dm ben');
      a.enter();
      await until(() => a.screen().includes('* now talking in (dm ben)'), '/dm', both);
      a.type('just for you');
      a.enter();
      await until(() => b.screen().includes('<ann> just for you'), 'the direct message at ben', both);
      a.type('/join town');
      a.enter();
      await until(() => count(a.screen(), '* now talking in #town') >= 1, '/join', both);
      a.type('/leave');
      a.enter();
      await until(() => a.screen().includes('* left #town') && b.screen().includes('* ann left #town'), '/leave seen by both', both);

      b.type('/quit');
      b.enter();
      a.type('/quit');
      a.enter();
      await until(() => a.code() !== undefined && b.code() !== undefined, 'both to quit', both);
      expect([a.code(), b.code()]).toEqual([0, 0]);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  }, 120_000);
});
