import { signal } from '@preact/signals';
import { api, goToLogin } from './api.js';
import { addLines, cursors, hasMore, hasNewer, latestSeq, newestSeqIn, noteSeq, PAGE, timelines } from './chat-timeline.js';
import type { ChatMessage, Member, RoomInfo } from './types.js';

export { hasMore, hasNewer, timelines, type Line } from './chat-timeline.js';

/**
 * The app's one chat connection (docs/chat-protocol.md): a single-use ticket opens the socket;
 * reconnects carry `?resume=` cursors so nothing is missed or repeated; sends carry a clientId and
 * stay pending until acked, and pending ones are sent again (same clientId) after a reconnect —
 * the server stores each once.
 */

export interface Pending {
  clientId: string;
  room: number;
  body: string;
  failed?: string;
}

export type ConnState = 'connecting' | 'online' | 'offline';

export const connState = signal<ConnState>('connecting');
export const rooms = signal<RoomInfo[]>([]);
export const publicRooms = signal<RoomInfo[]>([]);
export const members = signal<Record<number, Member[]>>({});
export const pending = signal<Pending[]>([]);
/** Names of the people behind DM rooms, by room id. */
export const dmNames = signal<Record<number, string>>({});
export const readSeq = signal<Record<number, number>>({});
export const notice = signal('');

let ws: WebSocket | null = null;
let me = 0;
let retries = 0;
let stopped = false;
let refs = 0;
const waiting = new Map<string, { resolve: (f: any) => void; reject: (e: Error) => void }>();

/**
 * Read cursors live on the server (one per member and room: docs/chat-protocol.md), so unread
 * counts are the same after a reload and on every device. The page keeps the highest cursor it
 * knows per room — the server's, or one it marked and has not heard back about — and tells the
 * server with a `read` frame, at most one per room a second (a burst of messages is one frame:
 * each is a database write).
 */
function loadReadCursors(list: RoomInfo[]) {
  const next: Record<number, number> = { ...readSeq.value };
  for (const r of list) {
    const server = r.readSeq ?? r.lastSeq;
    const local = next[r.id];
    next[r.id] = local === undefined ? server : Math.max(local, server);
    // Marked here while the server did not hear it (offline): told again.
    if (local !== undefined && local > server) sendRead(r.id);
  }
  readSeq.value = next;
}

const readTimers = new Map<number, ReturnType<typeof setTimeout>>();

function sendRead(room: number) {
  if (readTimers.has(room)) return;
  readTimers.set(
    room,
    setTimeout(() => {
      readTimers.delete(room);
      const seq = readSeq.value[room];
      if (seq === undefined || connState.value !== 'online') return;
      request<{ readSeq: number }>({ type: 'read', room, seq }).then(
        (f) => {
          if (f.readSeq > (readSeq.value[room] ?? 0)) readSeq.value = { ...readSeq.value, [room]: f.readSeq };
        },
        () => {},
      );
    }, 1000),
  );
}

export function markRead(room: number) {
  const r = rooms.value.find((x) => x.id === room);
  if (!r) return;
  if ((readSeq.value[room] ?? 0) >= r.lastSeq) return;
  readSeq.value = { ...readSeq.value, [room]: r.lastSeq };
  sendRead(room);
}

/** Unread messages in every room, for the Chat link in the header. */
export function totalUnread(): number {
  return rooms.value.reduce((n, r) => n + unreadOf(r), 0);
}

export function unreadOf(room: RoomInfo): number {
  return Math.max(0, room.lastSeq - (readSeq.value[room.id] ?? room.lastSeq));
}

export async function connect(userId: number) {
  me = userId;
  stopped = false;
  connState.value = 'connecting';
  let ticket: string;
  try {
    ticket = (await api<{ ticket: string }>('POST', '/api/chat/ticket')).ticket;
  } catch {
    return scheduleReconnect();
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const resume = cursors();
  const url = `${scheme}//${location.host}/api/chat?ticket=${encodeURIComponent(ticket)}${resume ? `&resume=${resume}` : ''}`;
  const socket = new WebSocket(url);
  ws = socket;
  socket.onmessage = (e) => {
    try {
      onFrame(JSON.parse(String(e.data)));
    } catch {}
  };
  socket.onclose = (e) => {
    if (ws !== socket) return;
    ws = null;
    connState.value = 'offline';
    for (const w of waiting.values()) w.reject(new Error('The connection was lost.'));
    waiting.clear();
    // An event handler: nothing to unwind, and a throw here would be an uncaught page error.
    if (e.code === 4001) return goToLogin();
    if (e.code === 4029) notice.value = 'Too many chat connections are open for your account; close other tabs.';
    if (!stopped) scheduleReconnect(e.code === 4029 ? 30_000 : undefined);
  };
}

function scheduleReconnect(delay?: number) {
  connState.value = 'offline';
  const wait = delay ?? Math.min(10_000, 500 * 2 ** retries);
  retries += 1;
  setTimeout(() => {
    if (!stopped && !ws) void connect(me);
  }, wait);
}

export function disconnect() {
  stopped = true;
  const s = ws;
  ws = null;
  if (s && s.readyState <= 1) {
    try {
      s.send(JSON.stringify({ type: 'bye' }));
    } catch {}
    s.close(1000);
  }
}

/** Sends a frame and waits for the reply carrying its ref. */
export function request<T = any>(frame: Record<string, unknown>): Promise<T> {
  const ref = `r${++refs}`;
  return new Promise<T>((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return reject(new Error('Chat is not connected; it reconnects on its own.'));
    waiting.set(ref, { resolve, reject });
    ws.send(JSON.stringify({ ...frame, ref }));
  });
}

function onMessage(m: ChatMessage) {
  noteSeq(m.room, m.seq);
  // While the newest messages are out of the window (scrolled far back), they are fetched on the way down.
  if (timelines.value[m.room] && !hasNewer.value[m.room]) addLines(m.room, [{ kind: 'message', message: m }]);
  if (m.clientId) {
    settled(m.clientId);
    pending.value = pending.value.filter((p) => p.clientId !== m.clientId);
  }
  rooms.value = rooms.value.map((r) => (r.id === m.room && m.seq > r.lastSeq ? { ...r, lastSeq: m.seq } : r));
  if (m.sender.id === me) markRead(m.room);
}

const PRESENCE_WORDS: Record<string, string> = {
  joined: 'joined',
  left: 'left',
  disconnected: 'lost their connection',
  rejoined: 'is back',
  offline: 'went offline',
};

function onPresence(f: { room: number; event: string; user: { id: number | null; name: string }; count: number }) {
  // One's own comings and goings (other tabs, reconnects) are not news to oneself.
  if (f.user.id !== me) {
    const text = `${f.user.name} ${PRESENCE_WORDS[f.event] ?? f.event} · ${f.count} here`;
    addLines(f.room, [{ kind: 'system', key: `p${Date.now()}${Math.random()}`, text, at: Date.now() }]);
  }
  const list = members.value[f.room];
  // Someone new in the room: the member list is read again.
  if (list && f.user.id !== null && !list.some((m) => m.id === f.user.id)) return void loadMembers(f.room).catch(() => {});
  if (list && f.user.id !== null) {
    const state = f.event === 'joined' || f.event === 'rejoined' ? 'online' : f.event === 'disconnected' ? 'disconnected' : 'offline';
    members.value = { ...members.value, [f.room]: list.map((m) => (m.id === f.user.id ? { ...m, presence: state } : m)) };
  }
}

function onHello(f: { rooms: RoomInfo[] }) {
  retries = 0;
  notice.value = '';
  connState.value = 'online';
  rooms.value = f.rooms;
  loadReadCursors(f.rooms);
  // Every pending message goes again now (same clientId); a resend waiting for its backoff is that one.
  for (const t of resendTimers.values()) clearTimeout(t);
  resendTimers.clear();
  for (const p of pending.value) send(p.room, p.body, p.clientId);
  void refreshRooms().catch(() => {});
}

function onFrame(f: any) {
  if (f.ref && waiting.has(f.ref)) {
    const w = waiting.get(f.ref);
    waiting.delete(f.ref);
    if (f.type === 'error') w?.reject(new Error(f.message));
    else w?.resolve(f);
    if (f.type !== 'ack' && f.type !== 'error') return;
  }
  switch (f.type) {
    case 'hello':
      return onHello(f);
    case 'message':
      return onMessage(f as ChatMessage);
    case 'presence':
      return onPresence(f);
    case 'ack':
      settled(f.clientId);
      pending.value = pending.value.filter((p) => p.clientId !== f.clientId);
      return;
    case 'membership':
      return void refreshRooms().catch(() => {});
    case 'error':
      return onError(f);
  }
}

/** Codes that mean "not now" rather than "no": the message stays pending and is sent again. */
const TRANSIENT = new Set(['DATABASE_UNAVAILABLE', 'SERVER_BUSY', 'STORAGE_UNAVAILABLE']);
const resendTimers = new Map<string, ReturnType<typeof setTimeout>>();
const resendTries = new Map<string, number>();

/**
 * A send refused for now (the database is down): after `retryAfter` (or 1, 2, 4 … 15 s) the same
 * frame goes again with the same clientId, so the server stores it once whatever happened to the
 * first try. A reconnect meanwhile resends every pending message itself (onHello).
 */
function retryLater(p: Pending, retryAfter: number | undefined) {
  if (resendTimers.has(p.clientId)) return;
  const tries = (resendTries.get(p.clientId) ?? 0) + 1;
  resendTries.set(p.clientId, tries);
  const wait = retryAfter !== undefined ? retryAfter * 1000 : Math.min(15_000, 1000 * 2 ** (tries - 1));
  resendTimers.set(
    p.clientId,
    setTimeout(() => {
      resendTimers.delete(p.clientId);
      if (pending.value.some((x) => x.clientId === p.clientId)) send(p.room, p.body, p.clientId);
    }, wait),
  );
}

function onError(f: { code: string; message: string; ref?: string; clientId?: string; retryAfter?: number }) {
  const id = f.clientId ?? f.ref;
  const p = id ? pending.value.find((x) => x.clientId === id) : undefined;
  if (!p) {
    if (!f.ref) notice.value = f.message;
    return;
  }
  if (TRANSIENT.has(f.code)) return retryLater(p, f.retryAfter);
  pending.value = pending.value.map((x) => (x.clientId === id ? { ...x, failed: f.message } : x));
}

function settled(clientId: string | undefined) {
  if (!clientId) return;
  clearTimeout(resendTimers.get(clientId));
  resendTimers.delete(clientId);
  resendTries.delete(clientId);
}

export async function refreshRooms() {
  const { rooms: all } = await request<{ rooms: RoomInfo[] }>({ type: 'rooms' });
  const mine = all.filter((r) => r.role !== undefined);
  rooms.value = mine;
  publicRooms.value = all.filter((r) => r.role === undefined && r.kind === 'room');
  loadReadCursors(mine);
  for (const r of mine) if (r.kind === 'dm' && !dmNames.value[r.id]) void loadMembers(r.id).catch(() => {});
}

export async function loadMembers(room: number) {
  const f = await request<{ members: Member[] }>({ type: 'members', room });
  members.value = { ...members.value, [room]: f.members };
  const other = f.members.find((m) => m.id !== me);
  const r = rooms.value.find((x) => x.id === room);
  if (r?.kind === 'dm') dmNames.value = { ...dmNames.value, [room]: other?.username ?? 'Just you' };
}

/** One page of older messages; the first call loads the newest page. */
export async function loadHistory(room: number) {
  const lines = timelines.value[room];
  const oldest = lines?.find((l) => l.kind === 'message') as { message: ChatMessage } | undefined;
  const f = await request<{ messages: ChatMessage[]; hasMore: boolean }>({
    type: 'history',
    room,
    limit: PAGE,
    ...(oldest ? { before: oldest.message.seq } : {}),
  });
  if (!timelines.value[room]) timelines.value = { ...timelines.value, [room]: [] };
  for (const m of f.messages) noteSeq(room, m.seq);
  hasMore.value = { ...hasMore.value, [room]: f.hasMore };
  addLines(room, f.messages.map((message) => ({ kind: 'message', message })), true);
}

/** Replaces the window with the newest page (after reading far back). */
export async function jumpToLatest(room: number) {
  const f = await request<{ messages: ChatMessage[]; hasMore: boolean }>({ type: 'history', room, limit: PAGE });
  timelines.value = { ...timelines.value, [room]: f.messages.map((message) => ({ kind: 'message', message })) };
  hasMore.value = { ...hasMore.value, [room]: f.hasMore };
  hasNewer.value = { ...hasNewer.value, [room]: false };
}

/** The page after the newest message in the window, when the window no longer reaches the end. */
export async function loadNewer(room: number) {
  const last = newestSeqIn(room);
  const f = await request<{ messages: ChatMessage[] }>({ type: 'history', room, limit: PAGE, before: last + PAGE + 1 });
  const fresh = f.messages.filter((m) => m.seq > last);
  const reached = fresh.length === 0 || (fresh[fresh.length - 1]?.seq ?? 0) >= (latestSeq.value[room] ?? 0);
  if (fresh.length === 0 && (latestSeq.value[room] ?? 0) > last) {
    // A gap in the sequence (numbers skipped after a crash): go to the newest page instead.
    const newest = await request<{ messages: ChatMessage[] }>({ type: 'history', room, limit: PAGE });
    addLines(room, newest.messages.map((message) => ({ kind: 'message', message })));
  } else {
    addLines(room, fresh.map((message) => ({ kind: 'message', message })));
  }
  if (reached) hasNewer.value = { ...hasNewer.value, [room]: false };
}

function newClientId(): string {
  return `web-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;
}

/** Queues a message; it shows as pending until acked and is resent after a reconnect. */
export function send(room: number, body: string, clientId = newClientId()) {
  if (!pending.value.some((p) => p.clientId === clientId)) pending.value = [...pending.value, { clientId, room, body }];
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'send', room, body, clientId, ref: clientId }));
}

export function displayName(r: RoomInfo): string {
  if (r.kind === 'dm') return dmNames.value[r.id] ?? 'Direct message';
  return r.visibility === 'private' ? `🔒 ${r.name}` : `#${r.name}`;
}
