import { createHash } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import type { Principal, User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { CLOSE, closeIfOverCap } from '../chat/close-codes.js';
import { heartbeatOptions } from '../chat/heartbeat.js';
import { createFrameLimit } from '../chat/frame-limit.js';
import { type HeartbeatEntry, startHeartbeat } from '../chat/heartbeat.js';
import type { HubConnection } from '../chat/hub.js';
import { MAX_BODY_CHARS, type SendResult } from '../chat/messages.service.js';
import { type HubEvent, type Participant, type RoomInfo, userKey } from '../chat/model.js';
import { ROOM_NAME } from '../chat/rooms.service.js';
import { isCrossSiteRequest, requireAdmin, requireUser } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { errors } from '../http/schemas.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';

/**
 * Seed 004 (Adcluster)'s WebSocket text commands and its `/api/ws` REST, as a thin adapter over
 * the chat service. Its "groups" are Plaza rooms (by name), so seed 004 clients and native clients
 * in the same room see each other; its `/send_to` is a server-side send to a user's (or guest's)
 * connections.
 *
 * Endpoints (each also under `/api`): `/ws` echoes `Message text was: <msg>` and needs no login;
 * `/ws/{client_id}` and `/ws/{client_id}/{group}` speak the commands. Identity: a logged-in user
 * (bearer header, session cookie from our own pages, or `?token=<bearer access token>`) is that
 * user and `client_id` must be their username (403 otherwise); without a login, only when
 * PLAZA_GUEST_CHAT is on (401 otherwise), as a guest whose id is not a registered username (403)
 * and not already connected (409). Guests follow public groups only and hold no memberships.
 * The group path segment joins that group at connect (users: created when missing; guests: an
 * existing public group, 404 otherwise). Refusals happen before the upgrade, in the native JSON
 * error format.
 *
 * Replies (one text frame each):
 * - welcome: `Connected as client '<id>'` or `Connected as client '<id>' in group '<g>'`, then
 *   `. ` and the command list ({@link ADCLUSTER_HELP}).
 * - `/send_to <id> <msg>` → target: `Private message from client '<me>': <msg>`; sender
 *   `Message sent to client '<id>'` or `Failed to send message to client '<id>'. Client not found or disconnected.`
 * - `/join <g>` → `Joined group: <g>` · `/leave <g>` → `Left group: <g>`
 * - `/group <msg>` → every group of the sender (sender included) gets `Group message from client '<me>': <msg>`;
 *   on `/ws/{client_id}/{group}` only that group does (while the connection is still in it)
 * - other text → every group of the sender gets `Client '<me>': <msg>`; messages from native
 *   clients render as group messages; a direct-message room's messages as private messages.
 *   Outside any group, the sender alone gets `Client '<me>' says: <msg>` (the seed told everyone).
 * - `/groups` → `Available groups: [{"name": "lobby", "member_count": 2, "online": 1}]` (Python's
 *   json.dumps) — groups the caller may see; member_count = memberships + guests present, online =
 *   present with a live connection.
 * - `/group_members <g>` → `Members in group '<g>': ['ann', 'bob']` (members, then guests present)
 * - `/my_groups` → `Your groups: ['lobby']` · `/help` → the command list
 * - others joining: `Client '<name>' joined group '<g>'`; leaving a group while still connected:
 *   `Client '<name>' left group '<g>'`; disconnecting: `Client '<name>' has disconnected` (once per
 *   notice even when shared with several groups; not repeated when the grace period ends).
 * - problems: `Error: <reason>` — an unknown `/command` (`Error: Unknown command '/nope'. Commands: …`;
 *   text like `/usr/bin` that is not a `/word` is plain text), an empty message, a binary frame,
 *   too many frames (more than PLAZA_CHAT_FRAMES_PER_10S per 10 s), no group to speak to.
 *   Frames over 64 KiB close the socket (1009); a client too far behind is closed (1008); a socket
 *   past the user's chat socket cap (PLAZA_CHAT_MAX_SOCKETS_PER_USER, all transports) gets
 *   `Error: Too many chat connections: …` instead of the welcome and is closed with 4029.
 */

export const ADCLUSTER_HELP =
  'Commands: /send_to <client_id> <message>, /join <group>, /leave <group>, /group <message>, /groups, ' +
  '/group_members <group>, /my_groups; any other text goes to your groups';

const GUEST_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const COMMAND = /^\/([A-Za-z_]+)(?:\s+([\s\S]*))?$/;
const NOTICE_DEDUPE_MS = 2000;
const MAX_TOKEN_CHARS = 4096;

const guestKey = (id: string) => `g:${id}`;

/** Python's repr of a string (seed 004 printed Python lists). */
function pyStr(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}
const pyList = (items: string[]) => `[${items.map(pyStr).join(', ')}]`;

/**
 * What Python's `json.dumps` writes with its defaults (seed 004 printed its group list so): ", " and
 * ": " between items, everything beyond ASCII as \uXXXX (UTF-16 units, as Python does).
 */
function pyJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

interface Identity {
  participant: Participant;
  /** Null for guests. */
  user: User | null;
  sessionId: string | null;
  group?: RoomInfo;
}

interface Live extends HeartbeatEntry {
  /** A guest's id: re-checked, since a guest may never keep a name someone has since registered. */
  guest?: string;
}

/** Echo sockets need no login: their number is bounded. */
const MAX_ECHO_SOCKETS = 1000;

function fail(message: string): AppError {
  return new AppError('BAD_REQUEST', message);
}

/** One rate window per connection, like the native transport's. */
function onlineIn(core: Core, roomId: number): Participant[] {
  return core.chat.hub.presentIn(roomId).filter((p) => core.chat.hub.presenceOf(p.key) === 'online');
}

function guestsIn(core: Core, roomId: number): string[] {
  return core.chat.hub
    .presentIn(roomId)
    .filter((p) => p.userId === null)
    .map((p) => p.name);
}

/** Seed 004's `/groups` rows: groups the caller may see (guests: public ones). */
async function visibleGroups(core: Core, user: User | null) {
  const rooms = user
    ? (await core.chat.rooms.list(user)).filter((r) => r.kind === 'room')
    : (await core.chat.rooms.groups()).filter((r) => r.visibility === 'public');
  return rooms.map((r) => ({
    name: r.name,
    members: (r.memberCount ?? 0) + guestsIn(core, r.id).length,
    online: onlineIn(core, r.id).length,
  }));
}

/** A group's members (users), then guests present; NOT_FOUND for groups the caller may not see. */
async function groupMembers(core: Core, user: User | null, name: string): Promise<string[]> {
  const room = ROOM_NAME.test(name) ? await core.chat.rooms.findByName(name) : undefined;
  if (!room || room.kind !== 'room') throw new AppError('NOT_FOUND', `No group '${name}'`);
  let members: Array<{ username: string }>;
  try {
    members = user ? await core.chat.rooms.members(user, room.id) : await core.chat.rooms.publicGroupMembers(room.id);
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `No group '${name}'`);
    throw err;
  }
  return [...members.map((m) => m.username), ...guestsIn(core, room.id)];
}

/**
 * Pushes a notice to a client's connections: a registered user (by username) or a guest (by id).
 * Resolves with the number of connections reached, or undefined when there is no such client.
 */
async function sendToClient(core: Core, from: Participant, clientId: string, text: string): Promise<number | undefined> {
  if (text.trim() === '' || text.length > MAX_BODY_CHARS) {
    throw new AppError('VALIDATION_FAILED', `The message must be 1-${MAX_BODY_CHARS} characters`);
  }
  const user = await core.users.findByUsername(clientId);
  if (user && !user.disabled) return (await core.chat.sendToUser(from, user, text)).delivered;
  if (user || !GUEST_ID.test(clientId)) return undefined;
  const key = guestKey(clientId);
  if (core.chat.hub.presenceOf(key) === 'offline') return undefined;
  return core.chat.hub.publishToUser(key, { kind: 'direct', from: { id: from.userId, name: from.name }, text });
}

function serveEcho(core: Core, socket: WebSocket, log: FastifyBaseLogger, live: Set<Live>, echoes: { count: number }) {
  const { framesPer10s, maxBufferedBytes } = core.config.chat;
  const limited = createFrameLimit(framesPer10s);
  socket.on('error', (err) => log.debug({ err }, 'seed 004 echo socket error'));
  if (echoes.count >= MAX_ECHO_SOCKETS) {
    socket.close(CLOSE.TRY_AGAIN_LATER, 'Too many echo connections; try again later');
    return;
  }
  echoes.count++;
  // Heartbeats find dead echo peers too.
  const entry: Live = { socket, sessionId: null, alive: true };
  live.add(entry);
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('close', () => {
    echoes.count--;
    live.delete(entry);
  });
  socket.on('message', (data, isBinary) => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > maxBufferedBytes) {
      socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind');
      return;
    }
    if (isBinary) socket.send('Error: Only text frames are supported');
    else if (limited()) socket.send(`Error: Too many messages: at most ${framesPer10s} per 10 seconds; slow down`);
    else socket.send(`Message text was: ${data.toString()}`);
  });
}

function serveCommands(core: Core, socket: WebSocket, identity: Identity, log: FastifyBaseLogger, live: Set<Live>) {
  const { chat } = core;
  const { maxBufferedBytes, framesPer10s } = core.config.chat;
  const me = identity.participant;
  const user = identity.user;
  /** Rooms this connection knows by id (name, kind, visibility). */
  const known = new Map<number, RoomInfo>();
  const lastNotice = new Map<string, number>();
  let dropped = false;

  function write(text: string) {
    if (dropped || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > maxBufferedBytes) {
      dropped = true;
      socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind: reconnect');
      setTimeout(() => socket.terminate(), 5000).unref();
      return;
    }
    socket.send(text);
  }

  function replyError(err: unknown) {
    const m = mapError(err);
    if (m.status >= 500) log.error({ err }, 'seed 004 command failed');
    write(`Error: ${m.status >= 500 ? 'Something went wrong; try again' : m.message}`);
  }

  const isSelf = (u: { id: number | null; name: string }) =>
    me.userId !== null ? u.id === me.userId : u.id === null && u.name === me.name;
  const keyOf = (u: { id: number | null; name: string }) => (u.id !== null ? userKey(u.id) : guestKey(u.name));

  /** The same notice from several shared groups is shown once. */
  function once(text: string): string | undefined {
    const now = Date.now();
    const at = lastNotice.get(text);
    if (at !== undefined && now - at < NOTICE_DEDUPE_MS) return undefined;
    if (lastNotice.size > 1000) lastNotice.clear();
    lastNotice.set(text, now);
    return text;
  }

  function render(event: HubEvent): string | undefined {
    switch (event.kind) {
      case 'message': {
        const m = event.message;
        const body = m.kind === 'file' ? `[file] ${m.body}` : m.body;
        if (known.get(m.room)?.kind === 'dm') {
          return m.sender.id === me.userId ? undefined : `Private message from client '${m.sender.name}': ${body}`;
        }
        if (event.style === 'text') return `Client '${m.sender.name}': ${body}`;
        return `Group message from client '${m.sender.name}': ${body}`;
      }
      case 'presence': {
        if (isSelf(event.user) || known.get(event.room)?.kind === 'dm' || event.roomName.startsWith('dm:')) return undefined;
        const name = event.user.name;
        switch (event.event) {
          case 'joined':
          case 'rejoined':
            return `Client '${name}' joined group '${event.roomName}'`;
          case 'left':
            // "left" is both a clean goodbye and leaving one group while staying connected.
            if (chat.hub.presenceOf(keyOf(event.user)) === 'online') return `Client '${name}' left group '${event.roomName}'`;
            return once(`Client '${name}' has disconnected`);
          case 'disconnected':
            return once(`Client '${name}' has disconnected`);
          case 'offline':
            return undefined;
        }
        return undefined;
      }
      case 'direct':
        return `Private message from client '${event.from.name}': ${event.text}`;
      case 'membership':
        // The hub already (un)subscribed this connection; remember the room's name and kind.
        if (event.event === 'added') known.set(event.room.id, event.room);
        return undefined;
    }
  }

  const conn: HubConnection = {
    id: randomId('con'),
    participant: me,
    deliver(event) {
      const text = render(event);
      if (text !== undefined) write(text);
    },
  };
  const entry: Live = {
    socket,
    sessionId: identity.sessionId,
    alive: true,
    ...(identity.user === null ? { guest: me.name } : {}),
  };
  live.add(entry);

  /** The groups this connection speaks to: rooms (not DMs) it follows, by name. */
  function myGroups(): RoomInfo[] {
    return chat.hub
      .subscribedRooms(conn)
      .map((id) => known.get(id))
      .filter((r): r is RoomInfo => r !== undefined && r.kind === 'room')
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Who a message goes to: the connection's groups; for `/group` on `/ws/{client_id}/{group}`, the
   * path's group alone while the connection follows it (the seed sends it there only).
   */
  function audience(style: 'group' | 'text'): RoomInfo[] {
    const groups = myGroups();
    const own = style === 'group' && identity.group ? groups.find((r) => r.id === identity.group?.id) : undefined;
    return own ? [own] : groups;
  }

  async function speak(body: string, style: 'group' | 'text') {
    if (body.trim() === '') throw new AppError('VALIDATION_FAILED', 'A message needs some text');
    const groups = audience(style);
    if (groups.length === 0) {
      // The seed answers plain text outside any group in its own words (and tells everyone: Plaza tells nobody else).
      if (style === 'text') {
        write(`Client '${me.name}' says: ${body}`);
        return;
      }
      throw fail('You are not in any group; use /join <group> first');
    }
    for (const room of groups) {
      try {
        const input = { body, style };
        // Queued in frame order; stored and fanned out with whatever else is waiting (group commit).
        const committed: Promise<SendResult> = user
          ? (await chat.messages.enqueue(user, room.id, input)).committed
          : chat.messages.sendAsGuest(me, room, input);
        committed.catch(replyError);
      } catch (err) {
        replyError(err);
      }
    }
  }

  function groupName(arg: string, usage: string): string {
    const name = arg.trim();
    if (name === '') throw fail(`Usage: ${usage}`);
    if (!ROOM_NAME.test(name)) throw new AppError('VALIDATION_FAILED', 'Group names are 1-64 letters, digits, "_", "." or "-"');
    return name;
  }

  async function join(name: string) {
    let room: RoomInfo | undefined;
    try {
      if (user) room = await chat.rooms.joinOrCreateByName(user, name);
      else {
        room = await chat.rooms.findByName(name);
        if (room?.kind !== 'room' || room.visibility !== 'public') room = undefined;
      }
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
    }
    if (!room) {
      throw new AppError('NOT_FOUND', user ? `Cannot join group '${name}'` : `Cannot join group '${name}': guests join existing public groups only`);
    }
    known.set(room.id, room);
    chat.hub.subscribe(conn, room);
    write(`Joined group: ${name}`);
  }

  async function leave(name: string) {
    const room = myGroups().find((r) => r.name === name) ?? (user ? await chat.rooms.findByName(name) : undefined);
    if (!room || room.kind !== 'room') throw fail(`You are not in group '${name}'`);
    if (user) {
      try {
        await chat.rooms.leave(user, room.id);
      } catch (err) {
        if (err instanceof AppError && (err.code === 'NOT_MEMBER' || err.code === 'NOT_FOUND')) {
          throw fail(`You are not in group '${name}'`);
        }
        throw err;
      }
    }
    chat.hub.unsubscribe(conn, room.id);
    write(`Left group: ${name}`);
  }

  async function handle(text: string): Promise<void> {
    const m = COMMAND.exec(text);
    if (!m) return speak(text, 'text');
    const command = m[1] as string;
    const rest = m[2] ?? '';
    switch (command) {
      case 'send_to': {
        const parts = /^(\S+)\s+([\s\S]*)$/.exec(rest);
        if (!parts || (parts[2] as string).trim() === '') throw fail('Usage: /send_to <client_id> <message>');
        const target = parts[1] as string;
        const delivered = (await sendToClient(core, me, target, parts[2] as string)) ?? 0;
        write(
          delivered > 0
            ? `Message sent to client '${target}'`
            : `Failed to send message to client '${target}'. Client not found or disconnected.`,
        );
        return;
      }
      case 'join':
        return join(groupName(rest, '/join <group>'));
      case 'leave':
        return leave(groupName(rest, '/leave <group>'));
      case 'group':
        if (rest.trim() === '') throw fail('Usage: /group <message>');
        return speak(rest, 'group');
      case 'groups': {
        const rows = await visibleGroups(core, user);
        write(`Available groups: ${pyJson(rows.map((g) => ({ name: g.name, member_count: g.members, online: g.online })))}`);
        return;
      }
      case 'group_members': {
        const name = groupName(rest, '/group_members <group>');
        write(`Members in group '${name}': ${pyList(await groupMembers(core, user, name))}`);
        return;
      }
      case 'my_groups': {
        const names = user
          ? (await chat.rooms.roomsOf(me)).filter((r) => r.kind === 'room').map((r) => r.name).sort()
          : myGroups().map((r) => r.name);
        write(`Your groups: ${pyList(names)}`);
        return;
      }
      case 'help':
        write(ADCLUSTER_HELP);
        return;
      default:
        throw fail(`Unknown command '/${command}'. ${ADCLUSTER_HELP}`);
    }
  }

  // Two guests racing for one id both passed the upgrade check; the first one attached wins.
  if (user === null && chat.hub.connectionsOf(me.key) > 0) {
    write(`Error: Client '${me.name}' is already connected`);
    socket.close(CLOSE.POLICY_VIOLATION, 'Client id in use');
    live.delete(entry);
    return;
  }

  // Past the per-user cap nothing is attached and no welcome goes out (chat.connect below runs in this same turn).
  try {
    chat.admit(me);
  } catch (err) {
    replyError(err);
    closeIfOverCap(socket, err);
    live.delete(entry);
    return;
  }

  // The welcome goes out before anything the hub may deliver.
  const where = identity.group ? ` in group '${identity.group.name}'` : '';
  write(`Connected as client '${me.name}'${where}. ${ADCLUSTER_HELP}`);

  const ready = chat.connect(conn).then(
    (rooms) => {
      for (const r of rooms) known.set(r.id, r);
      if (identity.group) {
        known.set(identity.group.id, identity.group);
        chat.hub.subscribe(conn, identity.group);
      }
    },
    (err) => {
      replyError(err);
      socket.close(CLOSE.INTERNAL_ERROR, 'Could not load your groups');
    },
  );
  let chain: Promise<void> = ready;
  const limited = createFrameLimit(framesPer10s);

  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      write('Error: Only text frames are supported');
      return;
    }
    if (limited()) {
      write(`Error: Too many messages: at most ${framesPer10s} per 10 seconds; slow down`);
      return;
    }
    const text = data.toString();
    chain = chain.then(() => handle(text).catch(replyError));
  });
  socket.on('pong', () => {
    entry.alive = true;
  });
  socket.on('error', (err) => log.debug({ err }, 'seed 004 socket error'));
  socket.on('close', (code) => {
    live.delete(entry);
    void ready.then(() => chat.disconnect(conn, code === 1000));
  });
}

// The test pages: one small script (allowed by its hash), no other resources.
const PAGE_SCRIPT = `(() => {
  const $ = (id) => document.getElementById(id);
  const log = (line) => { const el = $('log'); el.textContent += line + '\\n'; el.scrollTop = el.scrollHeight; };
  let ws;
  $('connect').addEventListener('submit', (e) => {
    e.preventDefault();
    if (ws) ws.close(1000);
    const id = $('client').value.trim();
    const group = $('group') ? $('group').value.trim() : '';
    let path = '/ws';
    if (id) path += '/' + encodeURIComponent(id) + (group ? '/' + encodeURIComponent(group) : '');
    const token = $('token').value.trim();
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path +
      (token ? '?token=' + encodeURIComponent(token) : '');
    log('... connecting to ' + path);
    ws = new WebSocket(url);
    ws.onopen = () => log('connected');
    ws.onmessage = (m) => log('<- ' + m.data);
    ws.onclose = (c) => log('closed (' + c.code + (c.reason ? ': ' + c.reason : '') + ')');
    ws.onerror = () => log('connection error (refused, or not allowed without a login)');
  });
  $('disconnect').addEventListener('click', () => { if (ws) ws.close(1000); });
  $('send').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('text');
    if (!ws || ws.readyState !== 1) { log('not connected'); return; }
    ws.send(t.value);
    log('-> ' + t.value);
    t.value = '';
  });
  for (const b of document.querySelectorAll('[data-cmd]')) {
    b.addEventListener('click', () => { const t = $('text'); t.value = b.dataset.cmd; t.focus(); });
  }
})();`;
const SCRIPT_HASH = createHash('sha256').update(PAGE_SCRIPT).digest('base64');
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
const PAGE_STYLE = `body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.6rem 0}label{display:grid;font-size:.9rem}
input{padding:.4rem;font-size:1rem}#text{flex:1}button{padding:.45rem .8rem;cursor:pointer}
pre{background:#f5f5f5;padding:.8rem;height:22rem;overflow:auto;white-space:pre-wrap}code{background:#f3f3f3;padding:.1rem .3rem}`;

function testPage(title: string, intro: string, groupField: boolean, buttons: string[]): string {
  const group = groupField ? '<label>Group <input id="group" placeholder="lobby"></label>' : '';
  const cmds = buttons.map((c) => `<button type="button" data-cmd="${c}">${c.trim()}</button>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title} · Plaza</title><style>${PAGE_STYLE}</style></head><body>
<h1>${title}</h1><p>${intro}</p>
<form id="connect"><label>Client id <input id="client" placeholder="empty = echo /ws"></label>${group}<label>Access token (optional) <input id="token" type="password" autocomplete="off"></label><button>Connect</button><button type="button" id="disconnect">Disconnect</button></form>
<form id="send"><input id="text" placeholder="message or /command" autocomplete="off"><button>Send</button></form>
<div>${cmds}</div>
<pre id="log" aria-live="polite"></pre>
<script>${PAGE_SCRIPT}</script></body></html>`;
}

const SOCKET_TEST = testPage(
  'WebSocket test',
  'Leave the client id empty for the echo endpoint <code>/ws</code>, or give one for <code>/ws/&lt;client id&gt;</code>. ' +
    'Signed in here, your client id is your username; otherwise paste a bearer access token, or connect as a guest if this server allows guests.',
  false,
  ['/send_to ', '/join ', '/groups', '/my_groups'],
);
const GROUP_TEST = testPage(
  'Group messaging test',
  'Connects to <code>/ws/&lt;client id&gt;/&lt;group&gt;</code>. Plain text goes to your groups; <code>/group &lt;msg&gt;</code> sends a group message.',
  true,
  ['/group ', '/join ', '/leave ', '/groups', '/group_members ', '/my_groups', '/send_to '],
);

/** Seed 004's WebSocket endpoints, its REST (`/api/ws/…` and `/ws/…`) and its two test pages. Registered at the root scope. */
export async function adclusterSocketRoutes(app: FastifyInstance, { core }: { core: Core }) {
  const { chat } = core;
  const live = new Set<Live>();
  const identities = new WeakMap<FastifyRequest, Identity>();
  const echoes = { count: 0 };
  // JSON only, as on the native API.
  app.removeContentTypeParser('text/plain');

  // Heartbeats (see chat.socket.ts); a guest also loses an id someone has since registered.
  const stopHeartbeat = startHeartbeat(
    live,
    heartbeatOptions(core, {
      each: (s) => {
        if (s.guest === undefined) return;
        core.users.findByUsername(s.guest.toLowerCase()).then(
          (u) => {
            if (u) s.socket.close(CLOSE.NAME_TAKEN, 'That name now belongs to a registered user');
          },
          () => {},
        );
      },
    }),
  );
  app.addHook('onClose', async () => stopHeartbeat());

  /** The logged-in caller of an upgrade, if any; a presented but bad credential is refused. */
  async function principalOf(request: FastifyRequest): Promise<Principal | null> {
    const p = request.principal;
    if (p) {
      // A cookie rides along with any page's WebSocket: only our own pages may use it.
      if (p.via === 'cookie' && isCrossSiteRequest(core, request)) {
        throw new AppError('CSRF_REJECTED', 'Cross-site WebSocket refused');
      }
      return p;
    }
    if (request.authError) throw request.authError;
    const token = (request.query as { token?: unknown }).token;
    if (typeof token === 'string' && token !== '') {
      if (token.length > MAX_TOKEN_CHARS) throw new AppError('INVALID_TOKEN', 'Access token is not valid');
      return core.accounts.authenticateBearer(token);
    }
    return null;
  }

  /** `clientId` is given for paths whose id segment is fixed (`/ws/clients`, `/ws/groups/{g}`). */
  async function identify(request: FastifyRequest, fixedClientId?: string): Promise<Identity> {
    const params = request.params as { client_id?: string; group?: string };
    const clientId = fixedClientId ?? (params.client_id as string);
    const groupName = params.group;
    if (groupName !== undefined && !ROOM_NAME.test(groupName)) {
      throw new AppError('VALIDATION_FAILED', 'Group names are 1-64 letters, digits, "_", "." or "-"');
    }
    const principal = await principalOf(request);
    if (principal) {
      const user = principal.user;
      if (clientId !== user.username) {
        throw new AppError('FORBIDDEN', `You are logged in as '${user.username}': connect as /ws/${user.username}`);
      }
      const group = groupName === undefined ? undefined : await chat.rooms.joinOrCreateByName(user, groupName);
      return { participant: chat.participantOf(user), user, sessionId: principal.sessionId, ...(group ? { group } : {}) };
    }
    if (!core.config.chat.guests) {
      throw new AppError('UNAUTHENTICATED', 'Log in first: send a bearer token (header or ?token=) or a session cookie');
    }
    if (!GUEST_ID.test(clientId)) {
      throw new AppError('VALIDATION_FAILED', 'Guest client ids are 1-32 letters, digits, "_", "." or "-"');
    }
    if (await core.users.findByUsername(clientId)) {
      throw new AppError('FORBIDDEN', `'${clientId}' is a registered user: log in to use that name`);
    }
    const participant: Participant = { key: guestKey(clientId), userId: null, name: clientId };
    if (chat.hub.connectionsOf(participant.key) > 0) {
      throw new AppError('USERNAME_TAKEN', `Client '${clientId}' is already connected`);
    }
    let group: RoomInfo | undefined;
    if (groupName !== undefined) {
      group = await chat.rooms.findByName(groupName);
      if (group?.kind !== 'room' || group.visibility !== 'public') {
        throw new AppError('NOT_FOUND', `No public group '${groupName}': guests join existing public groups only`);
      }
    }
    return { participant, user: null, sessionId: null, ...(group ? { group } : {}) };
  }

  const preValidation = async (request: FastifyRequest) => {
    identities.set(request, await identify(request));
  };
  const onCommands = (socket: WebSocket, request: FastifyRequest) => {
    const identity = identities.get(request);
    if (!identity) {
      socket.close(CLOSE.INTERNAL_ERROR, 'No identity');
      return;
    }
    serveCommands(core, socket, identity, request.log, live);
  };

  /** A REST path that is also the socket path of the client named like its segment: only an upgrade is that client. */
  const socketToo: SocketToo = (clientId) => ({
    preValidation: async (request) => {
      if (request.ws) identities.set(request, await identify(request, clientId));
    },
    wsHandler: onCommands,
  });

  for (const prefix of ['', '/api']) {
    app.get(`${prefix}/ws`, { websocket: true }, (socket, request) => serveEcho(core, socket, request.log, live, echoes));
    app.get(`${prefix}/ws/:client_id`, { websocket: true, preValidation }, onCommands);
    app.get(`${prefix}/ws/:client_id/:group`, { websocket: true, preValidation }, onCommands);
    adclusterRestRoutes(app, core, prefix, socketToo);
  }

  const hide = { schema: { hide: true } };
  const page = (html: string) => async (_request: FastifyRequest, reply: FastifyReply) => reply.headers(PAGE_HEADERS).send(html);
  app.get('/socket_test.html', hide, page(SOCKET_TEST));
  app.get('/group_messaging_test.html', hide, page(GROUP_TEST));
}

type SocketToo = (clientId: string) => Pick<RouteOptions, 'preValidation' | 'wsHandler'>;

const Name = Type.String({ minLength: 1, maxLength: 64 });
const Body = Type.Object({ message: Type.String({ minLength: 1, maxLength: MAX_BODY_CHARS }) }, { additionalProperties: false });

/**
 * Seed 004's REST under `{prefix}/ws`: `/api/ws/...` (documented) and the short `/ws/...` its test
 * scripts call (the same routes, hidden from the OpenAPI document). `GET …/clients` and
 * `…/groups[/{g}]` share their paths with the sockets of clients named "clients" and "groups":
 * a plain GET is the REST answer, an upgrade that client's socket.
 */
function adclusterRestRoutes(app: FastifyInstance, core: Core, prefix: string, socketToo: SocketToo) {
  const { chat } = core;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const hide = prefix === '';
  const base = `${prefix}/ws`;

  r.route({
    method: 'GET',
    url: `${base}/clients`,
    schema: {
      tags,
      hide,
      summary: 'Seed 004: client ids (usernames and guests) with a live chat connection on this server that share a room with you (admins: all)',
      response: { 200: Type.Object({ clients: Type.Array(Type.String()), count: Type.Integer() }), ...errors(401) },
    },
    ...socketToo('clients'),
    handler: async (request) => {
      const clients = (await chat.visibleOnline(requireUser(request).user)).map((p) => p.name).sort();
      return { clients, count: clients.length };
    },
  });

  r.route({
    method: 'GET',
    url: `${base}/groups`,
    schema: {
      tags,
      hide,
      summary: 'Seed 004: the groups (rooms) you may see, with member and online counts',
      response: {
        200: Type.Object({
          groups: Type.Array(Type.Object({ name: Type.String(), members: Type.Integer(), online: Type.Integer() })),
          count: Type.Integer(),
        }),
        ...errors(401),
      },
    },
    ...socketToo('groups'),
    handler: async (request) => {
      const groups = await visibleGroups(core, requireUser(request).user);
      return { groups, count: groups.length };
    },
  });

  r.route({
    method: 'GET',
    url: `${base}/groups/:group`,
    schema: {
      tags,
      hide,
      summary: "Seed 004: a group's members (and guests present)",
      params: Type.Object({ group: Name }),
      response: {
        200: Type.Object({ group: Type.String(), members: Type.Array(Type.String()), count: Type.Integer() }),
        ...errors(401, 404),
      },
    },
    ...socketToo('groups'),
    handler: async (request) => {
      const members = await groupMembers(core, requireUser(request).user, request.params.group);
      return { group: request.params.group, members, count: members.length };
    },
  });

  adclusterSendRoutes(app, core, prefix);
}

/** Seed 004's server-side sends under `{prefix}/ws` (see {@link adclusterRestRoutes}). */
function adclusterSendRoutes(app: FastifyInstance, core: Core, prefix: string) {
  const { chat } = core;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['chat'];
  const hide = prefix === '';
  const base = `${prefix}/ws`;

  r.post(`${base}/send_to/:client_id`, {
    schema: {
      tags,
      hide,
      summary: "Seed 004: push a private message to a client's live connections (admins; anyone to themself)",
      params: Type.Object({ client_id: Name }),
      body: Body,
      response: {
        200: Type.Object({ client_id: Type.String(), delivered: Type.Integer(), success: Type.Boolean(), detail: Type.String() }),
        ...errors(400, 401, 403, 404, 415),
      },
    },
  }, async (request) => {
    const me = requireUser(request).user;
    const target = request.params.client_id;
    if (target !== me.username) requireAdmin(request);
    const delivered = await sendToClient(core, chat.participantOf(me), target, request.body.message);
    if (delivered === undefined) throw new AppError('NOT_FOUND', `No client '${target}'`);
    return {
      client_id: target,
      delivered,
      success: delivered > 0,
      detail:
        delivered > 0
          ? `Message sent to client '${target}'`
          : `Failed to send message to client '${target}'. Client not found or disconnected.`,
    };
  });

  r.post(`${base}/broadcast_to_group/:group`, {
    schema: {
      tags,
      hide,
      summary: 'Seed 004: post a message to a group (members; site admins post a system message)',
      params: Type.Object({ group: Name }),
      body: Body,
      response: {
        200: Type.Object({
          group: Type.String(),
          delivered: Type.Integer(),
          id: Type.String(),
          seq: Type.Integer(),
          detail: Type.String(),
        }),
        ...errors(400, 401, 403, 404, 415),
      },
    },
  }, async (request) => {
    const me = requireUser(request).user;
    const name = request.params.group;
    const room = ROOM_NAME.test(name) ? await chat.rooms.findByName(name) : undefined;
    if (!room || room.kind !== 'room') throw new AppError('NOT_FOUND', `No group '${name}'`);
    const sent = await chat.sendToRoom(me, room.id, request.body.message);
    return {
      group: name,
      delivered: sent.delivered,
      id: sent.message.id,
      seq: sent.message.seq,
      detail: `Message broadcast to group '${name}'`,
    };
  });
}
