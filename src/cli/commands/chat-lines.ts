import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { type Room, resolveRoom } from '../client/chat-api.js';
import { ChatSocket, type ServerFrame } from '../client/chat-socket.js';
import type { ClientContext } from '../client/context.js';
import { printable } from '../client/format.js';

const HELP = 'commands: /join ROOM, /leave, /dm USER, /who, /quit; any other line is sent to the current room';

const clock = (ms: unknown) => new Date(typeof ms === 'number' ? ms : Date.now()).toISOString().slice(11, 16);

interface State {
  rooms: Map<number, Room>;
  current: Room | undefined;
  me: string;
}

const label = (s: State, id: unknown) => {
  const r = s.rooms.get(id as number);
  return r ? (r.kind === 'dm' ? `(dm ${printable(r.name.replace(/^dm:/, ''))})` : `#${printable(r.name)}`) : `#${String(id)}`;
};

/** One server frame as the line a person (or a script reading stdout) sees; undefined for none. */
function lineFor(s: State, f: ServerFrame): string | undefined {
  const who = (u: unknown) => printable((u as { name?: string } | undefined)?.name ?? '?');
  switch (f.type) {
    case 'hello':
      for (const r of (f.rooms as Room[]) ?? []) s.rooms.set(r.id, r);
      return `* connected as ${who(f.user)}${s.current ? `; talking in ${label(s, s.current.id)}` : ''} (/help for commands)`;
    case 'message':
      return `[${clock(f.createdAt)}] ${label(s, f.room)} <${who(f.sender)}> ${printable(String(f.body))}`;
    case 'presence':
      return `* ${who(f.user)} ${String(f.event)} ${label(s, f.room)} (${String(f.count)} here)`;
    case 'direct':
      return `! notice from ${who(f.from)}: ${printable(String(f.text))}`;
    case 'joined':
    case 'dm':
    case 'created': {
      const r = f.room as Room;
      s.rooms.set(r.id, r);
      s.current = r;
      return `* now talking in ${label(s, r.id)}`;
    }
    case 'left':
      if (s.current?.id === f.room) s.current = undefined;
      return `* left ${label(s, f.room)}`;
    case 'members': {
      const list = (f.members as Array<{ username: string; presence?: { state?: string } | string }>).map((m) => {
        const p = typeof m.presence === 'string' ? m.presence : m.presence?.state;
        return `${printable(m.username)}${p ? ` (${p})` : ''}`;
      });
      return `* in ${label(s, f.room)}: ${list.join(', ')}`;
    }
    case 'error':
      return `! ${String(f.code)}: ${printable(String(f.message))}`;
    default:
      return undefined;
  }
}

/** A line typed by the user: a /command, or a message for the current room. */
function handleInput(s: State, socket: ChatSocket, line: string, say: (l: string) => void): 'quit' | undefined {
  const text = line.replace(/\r$/, '');
  if (text.trim() === '') return undefined;
  const [cmd, ...rest] = text.trim().split(/\s+/);
  const arg = rest.join(' ');
  if (cmd === '/quit' || cmd === '/exit') return 'quit';
  if (cmd === '/help') say(`* ${HELP}`);
  else if (cmd === '/join' && arg) socket.request({ type: 'join', ...(/^\d+$/.test(arg) ? { room: Number(arg) } : { name: arg.replace(/^#/, '') }) });
  else if (cmd === '/dm' && arg) socket.request({ type: 'dm', user: arg.replace(/^@/, '') });
  else if (cmd === '/leave' && s.current) socket.request({ type: 'leave', room: s.current.id });
  else if (cmd === '/who' && s.current) socket.request({ type: 'members', room: s.current.id });
  else if (cmd?.startsWith('/') && !text.startsWith('//')) say(`! unknown or incomplete command "${cmd}"; ${HELP}`);
  else if (!s.current) say('! no room yet: /join ROOM or /dm USER first');
  else socket.send({ room: s.current.id }, text.startsWith('//') ? text.slice(1) : text);
  return undefined;
}

/**
 * `plaza chat [room]` in line mode: each event one line on stdout (or each frame as JSON with
 * --json), each stdin line a message or a /command; end of input quits once every send is acked.
 */
export async function chatCommand(ctx: ClientContext, roomRef: string | undefined) {
  const s: State = { rooms: new Map(), current: undefined, me: ctx.api.loggedIn?.username ?? '' };
  if (roomRef) {
    s.current = await resolveRoom(ctx.api, roomRef);
    s.rooms.set(s.current.id, s.current);
  }
  // On a terminal: history scrolls above an input line ("> "), which is redrawn after each event.
  const tty = !ctx.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
  // Made once connected (stdin is read from then on); events before that print without a prompt.
  const view: { rl?: Interface } = {};
  const say = (l: string) => {
    const rl = view.rl;
    if (tty && rl) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      process.stdout.write(`${l}\n`);
      rl.prompt(true);
    } else if (l.startsWith('!')) process.stderr.write(`${l}\n`);
    else ctx.out(l);
  };
  const socket = new ChatSocket(ctx.api, {
    frame(f) {
      const line = lineFor(s, f);
      if (ctx.json) {
        if (f.type !== 'pong') ctx.out(JSON.stringify(f));
      } else if (line) say(line);
    },
    status: (text) => process.stderr.write(`* ${text}\n`),
  });
  await socket.connect();
  const rl = tty
    ? createInterface({ input: process.stdin, output: process.stdout, terminal: true, prompt: '> ' })
    : createInterface({ input: process.stdin, terminal: false });
  view.rl = rl;
  if (tty) rl.prompt();
  let quitting: Promise<void> | undefined;
  const quit = () => (quitting ??= socket.quit());
  rl.on('line', (line) => {
    if (tty) {
      // The typed line scrolls up as it was typed; the message itself comes back from the server.
      process.stdout.write('\x1b[1A');
      clearLine(process.stdout, 0);
      rl.prompt(true);
    }
    if (handleInput(s, socket, line, say) === 'quit') {
      rl.close();
      void quit();
    }
  });
  rl.on('close', () => void quit());
  rl.on('SIGINT', () => void quit());
  process.once('SIGINT', () => void quit());
  await socket.done;
  if (socket.unacked > 0) process.stderr.write(`! ${socket.unacked} message(s) were not confirmed by the server\n`);
}
