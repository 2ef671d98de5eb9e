import { type Room, resolveRoom } from '../client/chat-api.js';
import { ChatSocket, type ServerFrame } from '../client/chat-socket.js';
import type { ClientContext } from '../client/context.js';
import { printable } from '../client/format.js';
import { type ChatView, lineView, screenView } from './chat-screen.js';

const HELP = 'commands: /join ROOM, /leave, /dm USER, /who, /quit; any other line is sent to the current room';

const clock = (ms: unknown) => new Date(typeof ms === 'number' ? ms : Date.now()).toISOString().slice(11, 16);

interface State {
  rooms: Map<number, Room>;
  current: Room | undefined;
  me: string;
  /** The other person of each direct-message room (its name is only ids): from /dm, their messages or presence. */
  peers: Map<number, string>;
  askedDm?: string | undefined;
}

const label = (s: State, id: unknown) => {
  const r = s.rooms.get(id as number);
  return r ? (r.kind === 'dm' ? `(dm ${printable(s.peers.get(r.id) ?? 'direct')})` : `#${printable(r.name)}`) : `#${String(id)}`;
};

/** In a direct-message room, someone other than me is the peer. */
function notePeer(s: State, room: unknown, name: unknown) {
  if (typeof name === 'string' && name !== s.me && s.rooms.get(room as number)?.kind === 'dm') s.peers.set(room as number, name);
}

/** One server frame as the line a person (or a script reading stdout) sees; undefined for none. */
function lineFor(s: State, f: ServerFrame): string | undefined {
  const who = (u: unknown) => printable((u as { name?: string } | undefined)?.name ?? '?');
  switch (f.type) {
    case 'hello':
      for (const r of (f.rooms as Room[]) ?? []) s.rooms.set(r.id, r);
      return `* connected as ${who(f.user)}${s.current ? `; talking in ${label(s, s.current.id)}` : ''} (/help for commands)`;
    case 'message':
      notePeer(s, f.room, (f.sender as { name?: string } | undefined)?.name);
      return `[${clock(f.createdAt)}] ${label(s, f.room)} <${who(f.sender)}> ${printable(String(f.body))}`;
    case 'presence':
      // A room this view does not know yet (a direct-message room being opened) says nothing.
      if (!s.rooms.has(f.room as number)) return undefined;
      notePeer(s, f.room, (f.user as { name?: string } | undefined)?.name);
      return `* ${who(f.user)} ${String(f.event)} ${label(s, f.room)} (${String(f.count)} here)`;
    case 'direct':
      return `! notice from ${who(f.from)}: ${printable(String(f.text))}`;
    case 'joined':
    case 'dm':
    case 'created': {
      const r = f.room as Room;
      s.rooms.set(r.id, r);
      if (f.type === 'dm' && s.askedDm) s.peers.set(r.id, s.askedDm);
      s.current = r;
      return `* now talking in ${label(s, r.id)}`;
    }
    case 'membership': {
      const r = f.room as Room;
      if (f.event === 'added') s.rooms.set(r.id, r);
      return `* you were ${f.event === 'added' ? 'added to' : 'removed from'} ${label(s, r.id)}`;
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
  else if (cmd === '/dm' && arg) {
    s.askedDm = arg.replace(/^@/, '');
    socket.request({ type: 'dm', user: s.askedDm });
  }
  else if (cmd === '/leave' && s.current) socket.request({ type: 'leave', room: s.current.id });
  else if (cmd === '/who' && s.current) socket.request({ type: 'members', room: s.current.id });
  else if (cmd?.startsWith('/') && !text.startsWith('//')) say(`! unknown or incomplete command "${cmd}"; ${HELP}`);
  else if (!s.current) say('! no room yet: /join ROOM or /dm USER first');
  else socket.send({ room: s.current.id }, text.startsWith('//') ? text.slice(1) : text);
  return undefined;
}

/**
 * `plaza chat [room]`: on a terminal a full screen (chat-screen.ts: history above, a status bar, the
 * input line below); otherwise line mode, each event one line on stdout (each frame as JSON with
 * --json), each stdin line a message or a /command. End of input (or /quit) quits once every send
 * is acked.
 */
export async function chatCommand(ctx: ClientContext, roomRef: string | undefined) {
  const s: State = { rooms: new Map(), current: undefined, me: ctx.api.loggedIn?.username ?? '', peers: new Map() };
  if (roomRef) {
    s.current = await resolveRoom(ctx.api, roomRef);
    s.rooms.set(s.current.id, s.current);
    if (roomRef.startsWith('@')) s.peers.set(s.current.id, roomRef.slice(1));
  }
  const tty = !ctx.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const view: ChatView = tty ? screenView(process.stdin, process.stdout) : lineView(ctx.out);
  let connection = 'connecting';
  const showStatus = () =>
    view.status(` ${s.current ? label(s, s.current.id) : 'no room (/join ROOM)'} · ${printable(s.me)} · ${connection}${socket.unacked > 0 ? ` · ${socket.unacked} unsent` : ''} · /help`);
  const socket: ChatSocket = new ChatSocket(ctx.api, {
    frame(f) {
      const line = lineFor(s, f);
      if (ctx.json) {
        if (f.type !== 'pong') ctx.out(JSON.stringify(f));
      } else if (line) view.say(line);
      if (f.type === 'hello') connection = 'connected';
      showStatus();
    },
    status(text) {
      if (tty) {
        view.say(`* ${text}`);
        connection = text.startsWith('reconnected') ? 'connected' : text.startsWith('connection lost') ? 'reconnecting' : connection;
        showStatus();
      } else process.stderr.write(`* ${text}\n`);
    },
  });
  await socket.connect();
  let quitting: Promise<void> | undefined;
  const quit = () => (quitting ??= socket.quit());
  view.start(
    (line) => {
      if (handleInput(s, socket, line, (l) => view.say(l)) === 'quit') void quit();
      showStatus();
    },
    () => void quit(),
  );
  process.once('SIGINT', () => void quit());
  try {
    await socket.done;
  } finally {
    view.close();
  }
  if (socket.unacked > 0) process.stderr.write(`! ${socket.unacked} message(s) were not confirmed by the server\n`);
}
