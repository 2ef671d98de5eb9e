import net from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestContext, User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { createFrameLimit } from '../chat/frame-limit.js';
import type { HubConnection } from '../chat/hub.js';
import { MAX_BODY_CHARS } from '../chat/messages.service.js';
import { type ChatMessage, type HubEvent, userKey } from '../chat/model.js';
import { mapError } from '../http/errors.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import { runInSlices } from '../shared/slices.js';
import { closeDoor, drainOrClose, listenDoor } from './tcp-door.js';

/**
 * Seed 003's raw TCP chat front door (tkinter chat; opt-in port). A thin adapter: logins are Plaza
 * accounts, every TCP user is a member of one bridged room of the native chat, and what they say
 * and share goes through the chat and files services, so web users and TCP users share history
 * and presence.
 *
 * The seed's client has no framing at all. It sends `<id>/<password>`, then `[MESG]` + text (ending
 * in a newline; tkinter adds it), `[FILE]` + `<size>,<basename>` + (after a 0.5 s sleep) the bytes,
 * and `[!EXIT]`. It reads a reply with one `recv(1024)`, then loops on `recv(10)` for a header,
 * `recv(1024)` for a text, `recv(65536)` for a file's info line and then ⌈size/65536⌉ times for its
 * bytes. So here:
 *
 * - Input: headers are recognised by their exact bytes wherever a read boundary falls. A text ends
 *   where a newline is followed by the next header, or after a short quiet gap (longer when the
 *   bytes end inside a UTF-8 character or without the newline). The login and a file's info line
 *   end at a newline or a quiet gap. Anything else between frames is skipped up to the next `[`.
 * - Output: one write queue per connection. Every header and every payload is its own write,
 *   followed by a pause (`pauseMs`, 50 ms) so that no two land in one of the client's reads. Texts
 *   over 1024 bytes are split on UTF-8 character boundaries into several `[MESG]` frames (their
 *   payloads concatenate to the full line). File bytes go out in writes of at most 65,536 bytes, each
 *   drained and followed by the same pause.
 *
 * The seed client's file loop assumes every recv(65536) returns a full 65,536 bytes. No server can
 * promise that (TCP delivers what it has when the client is waiting); on loopback a first chunk
 * arrives whole, later ones often in halves, so files over 64 KiB may still desynchronise that
 * client, exactly as with the seed's own server, which relayed whatever each recv returned.
 */

export interface TcpChatDoorOptions {
  host: string;
  port: number;
  /** The bridged room (created on the first login when missing). */
  room: string;
  /** Unknown ids that log in become new accounts (the registration mode still applies). */
  autoRegister: boolean;
  log?: (obj: object, msg: string) => void;
  /** Pause after every header and payload write. */
  pauseMs?: number;
  /** Quiet time that ends a login, a text ending in a newline, or a file's info line. */
  gapMs?: number;
  /** Quiet time that ends a text (or login) that stops without a newline or inside a character. */
  partialGapMs?: number;
  /** A connection that has not logged in after this long is closed. */
  loginTimeoutMs?: number;
  /** A file whose bytes stop arriving for this long is abandoned (nothing is kept). */
  fileIdleMs?: number;
  /** After an unreadable `[FILE]` info line, input is skipped until it has been quiet this long. */
  skipQuietMs?: number;
  maxConnections?: number;
  /** Frames waiting for a client that does not read; past this the connection is dropped. */
  maxQueuedFrames?: number;
}

export interface TcpChatDoor {
  port: number;
  close(): Promise<void>;
}

export const HEADER_MESSAGE = '[MESG]';
export const HEADER_FILE = '[FILE]';
export const HEADER_EXIT = '[!EXIT]';
export const REPLY_WELCOME = '환영';
export const REPLY_WRONG_PASSWORD = '비틀림';
export const REPLY_ALREADY_ONLINE = '아중복';

/** The client's text read (`recv(1024)`): no payload may be longer. */
export const MAX_PAYLOAD_BYTES = 1024;
/** The client's file read size (`recv(65536)`). */
export const FILE_CHUNK_BYTES = 65536;
const MAX_LOGIN_BYTES = 1024;
const MAX_INFO_BYTES = 1024;
/** A text longer than this (bytes) is cut here; the chat keeps at most MAX_BODY_CHARS characters anyway. */
const MAX_TEXT_BYTES = 4 * MAX_BODY_CHARS;
/** Input held while a login or a file check is awaited; past it the socket stops reading. */
const MAX_BUFFERED_INPUT = 256 * 1024;
const LINGER_MS = 5000;
/** Accounts re-checked per turn of the event loop. */
const RECHECK_SLICE = 100;

const HEADERS = [
  { bytes: Buffer.from(HEADER_MESSAGE), kind: 'message' },
  { bytes: Buffer.from(HEADER_FILE), kind: 'file' },
  { bytes: Buffer.from(HEADER_EXIT), kind: 'exit' },
] as const;
type HeaderKind = (typeof HEADERS)[number]['kind'];
/** A newline followed by a header: where a text ends when the next frame follows in the same read. */
const NEXT_FRAME = HEADERS.map((h) => Buffer.concat([Buffer.from('\n'), h.bytes]));

// ---- What TCP users read (seed 003's words) ----

export const joinedText = (name: string, count: number) => `${name}님이 입장하셨습니다. (대화 참여자 수 ${count})`;
export const rejoinedText = (name: string) => `${name}님이 재입장하셨습니다.`;
export const leftText = (name: string) => `${name}님이 퇴장하셨습니다.`;
export const deactivatedText = (name: string) => `${name}님이 비활성되었습니다.`;
/** A chat line: the seed relays `[<id>] : <what the client sent>`, which ends in tkinter's newline. */
export const chatLine = (name: string, body: string) => `[${name}] : ${body}\n`;

const FILE_REFUSED = '파일을 받을 수 없습니다';
const MESSAGE_REFUSED = '메시지를 보낼 수 없습니다';

function fileRefusal(err: unknown): string {
  const code = err instanceof AppError ? err.code : mapError(err).code;
  switch (code) {
    case 'FILE_TOO_LARGE':
      return `${FILE_REFUSED}: 업로드 한도를 넘는 크기입니다.`;
    case 'QUOTA_EXCEEDED':
    case 'STORAGE_FULL':
      return `${FILE_REFUSED}: 저장 공간이 부족합니다.`;
    case 'UPLOAD_INCOMPLETE':
      return `${FILE_REFUSED}: 파일 내용이 끝까지 오지 않았습니다.`;
    case 'VALIDATION_FAILED':
      return `${FILE_REFUSED}: 파일 이름이 올바르지 않습니다.`;
    case 'RATE_LIMITED':
      return `${FILE_REFUSED}: 너무 빠르게 보내고 있습니다.`;
    default:
      return `${FILE_REFUSED}.`;
  }
}

function messageRefusal(err: unknown): string {
  const code = err instanceof AppError ? err.code : mapError(err).code;
  switch (code) {
    case 'RATE_LIMITED':
      return `${MESSAGE_REFUSED}: 너무 빠르게 보내고 있습니다.`;
    case 'NOT_MEMBER':
    case 'NOT_FOUND':
      return `${MESSAGE_REFUSED}: 대화방에 속해 있지 않습니다.`;
    default:
      return `${MESSAGE_REFUSED}.`;
  }
}

/** Worth a log line: the server failed, not the client (a full quota is the client's business). */
function serverFault(err: unknown): boolean {
  const m = mapError(err);
  return m.status >= 500 && m.code !== 'QUOTA_EXCEEDED';
}

// ---- Bytes ----

/** How many bytes at the end of `buf` are an unfinished UTF-8 sequence (0 when it ends cleanly). */
export function incompleteUtf8Tail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Splits UTF-8 bytes into pieces of at most `max` bytes, never inside a character. */
export function splitUtf8(buf: Buffer, max = MAX_PAYLOAD_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (buf.length - start > max) {
    let end = start + max;
    // Back up to the lead byte of the character that would be cut.
    while (end > start && ((buf[end] as number) & 0xc0) === 0x80) end--;
    if (end === start) end = start + max; // not UTF-8 at all: cut anywhere
    out.push(buf.subarray(start, end));
    start = end;
  }
  out.push(buf.subarray(start));
  return out;
}

function matchHeader(buf: Buffer): { kind: HeaderKind; length: number } | 'partial' | undefined {
  for (const h of HEADERS) {
    if (buf.length >= h.bytes.length && buf.subarray(0, h.bytes.length).equals(h.bytes)) {
      return { kind: h.kind, length: h.bytes.length };
    }
  }
  for (const h of HEADERS) if (buf.length < h.bytes.length && h.bytes.subarray(0, buf.length).equals(buf)) return 'partial';
  return undefined;
}

/** Where a text ends because the next frame's header follows its newline (index after the newline), or -1. */
function textEnd(buf: Buffer): number {
  let best = -1;
  for (const marker of NEXT_FRAME) {
    const i = buf.indexOf(marker);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best < 0 ? -1 : best + 1;
}

/** The first header inside a login read (a client that logs in and talks in one write). */
function headerInside(buf: Buffer): number {
  let best = -1;
  for (const h of HEADERS) {
    const i = buf.indexOf(h.bytes);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** The stored message body for what a client sent: tkinter's trailing newline is not part of it. */
export function bodyOf(text: string): string {
  let body = text.replace(/\r?\n$/, '');
  if (body.length > MAX_BODY_CHARS) {
    body = body.slice(0, MAX_BODY_CHARS);
    // Never keep half of a surrogate pair.
    if (/[\uD800-\uDBFF]$/.test(body)) body = body.slice(0, -1);
  }
  return body;
}

/**
 * `<size>,<basename>` → the two parts, or why it is refused. Names are metadata, never paths: one
 * with a separator, `..`, a NUL or other control character is refused rather than shortened.
 */
export function parseFileInfo(
  info: string,
): { size: number; name: string } | { error: 'size' } | { error: 'name'; size: number } {
  const comma = info.indexOf(',');
  if (comma < 0) return { error: 'size' };
  const sizeText = info.slice(0, comma).trim();
  if (!/^\d{1,15}$/.test(sizeText)) return { error: 'size' };
  const size = Number(sizeText);
  const name = info.slice(comma + 1);
  if (
    name.trim() === '' ||
    name.trim() === '.' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('..') ||
    /[\u0000-\u001f\u007f]/.test(name) ||
    /^[A-Za-z]:/.test(name) ||
    Buffer.byteLength(name) > 255
  ) {
    return { error: 'name', size };
  }
  return { size, name };
}

// ---- The door ----

export async function startTcpChatDoor(core: Core, options: TcpChatDoorOptions): Promise<TcpChatDoor> {
  const { chat } = core;
  const log = options.log ?? (() => {});
  const pauseMs = options.pauseMs ?? 50;
  const gapMs = options.gapMs ?? 40;
  const partialGapMs = options.partialGapMs ?? 500;
  const loginTimeoutMs = options.loginTimeoutMs ?? 10_000;
  const fileIdleMs = options.fileIdleMs ?? 30_000;
  const skipQuietMs = options.skipQuietMs ?? 1000;
  const maxConnections = options.maxConnections ?? 500;
  const maxQueuedFrames = options.maxQueuedFrames ?? 2000;
  const framesPer10s = core.config.chat.framesPer10s;

  const sockets = new Set<net.Socket>();
  /** Logged-in connections and their user: re-checked on a timer, so a disabled account is cut off. */
  const accounts = new Map<net.Socket, number>();
  let rechecking = false;
  const recheck = setInterval(() => {
    if (rechecking) return;
    rechecking = true;
    // One lookup per user however many connections they have, a slice at a time; a stuck database
    // holds up only the re-checks.
    const byUser = new Map<number, net.Socket[]>();
    for (const [socket, userId] of accounts) {
      const group = byUser.get(userId);
      if (group) group.push(socket);
      else byUser.set(userId, [socket]);
    }
    void runInSlices(byUser, RECHECK_SLICE, core.config.chat.heartbeatSeconds * 1000, async ([userId, group]) => {
      const u = await core.users.findById(userId).catch(() => 'unknown' as const);
      if (!u || (u !== 'unknown' && u.disabled)) for (const socket of group) socket.destroy();
    }).finally(() => (rechecking = false));
  }, core.config.chat.heartbeatSeconds * 1000);
  recheck.unref();
  /** Users between "not online" and attached to the hub: a second login for them is a duplicate. */
  const loggingIn = new Set<number>();
  /** Work that must finish before the database closes (sends, uploads, hub detaches). */
  const work = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    work.add(p);
    void p.then(
      () => work.delete(p),
      () => work.delete(p),
    );
    return p;
  };

  function serve(socket: net.Socket) {
    const ip = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    const ctx: RequestContext = { ip, userAgent: 'seed-003-tcp' };

    type Phase =
      | { kind: 'login' }
      | { kind: 'authenticating' }
      | { kind: 'header' }
      | { kind: 'text' }
      | { kind: 'info' }
      | { kind: 'data'; remaining: number; sink: PassThrough | undefined; blocked: boolean }
      | { kind: 'skip' }
      | { kind: 'done' };

    let phase: Phase = { kind: 'login' };
    let buf: Buffer = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let user: User | undefined;
    let roomId = 0;
    let conn: HubConnection | undefined;
    let detached = false;
    let closed = false;
    let sendChain: Promise<void> = Promise.resolve();
    const rateLimited = createFrameLimit(framesPer10s);

    // ---- Output: one queue, every write its own chunk, a pause after each ----

    let outTail: Promise<void> = Promise.resolve();
    let queued = 0;

    const writeChunk = async (bytes: Buffer, pause = true) => {
      if (closed || socket.destroyed || !socket.writable) return;
      if (!socket.write(bytes)) {
        await drainOrClose(socket);
      }
      if (pause && pauseMs > 0) await sleep(pauseMs);
    };

    const enqueueOut = (job: () => Promise<void>) => {
      if (closed) return;
      if (queued >= maxQueuedFrames) {
        log({ ip, user: user?.username }, 'seed 003 TCP client is not reading; dropping it');
        socket.destroy();
        return;
      }
      queued++;
      outTail = outTail
        .then(async () => {
          if (!closed) await job();
        })
        .catch((err: unknown) => {
          log({ err }, 'seed 003 TCP write failed');
          socket.destroy();
        })
        .finally(() => {
          queued--;
        });
      track(outTail);
    };

    const sendWord = (word: string) => enqueueOut(() => writeChunk(Buffer.from(word, 'utf8')));

    /** `[MESG]` + text; over 1024 bytes it becomes several frames, split between characters. */
    const sendText = (text: string) => {
      for (const piece of splitUtf8(Buffer.from(text, 'utf8'))) {
        enqueueOut(async () => {
          await writeChunk(Buffer.from(HEADER_MESSAGE));
          await writeChunk(piece);
        });
      }
    };

    /** `[FILE]`, `<size>,<name>`, then the stored bytes in writes of at most 65,536 bytes. */
    const sendFile = (message: ChatMessage) =>
      enqueueOut(async () => {
        const viewer = user;
        const shared = message.file;
        if (!viewer || !shared) return;
        let opened: Awaited<ReturnType<typeof core.files.open>>;
        let name: string;
        try {
          const file = await core.files.getReadable(viewer, shared.id);
          name = file.name;
          opened = await core.files.open(file);
        } catch {
          // Deleted since it was shared: say so instead of announcing bytes that cannot come.
          for (const piece of splitUtf8(Buffer.from(chatLine(message.sender.name, `${shared.name} (${FILE_REFUSED})`)))) {
            await writeChunk(Buffer.from(HEADER_MESSAGE));
            await writeChunk(piece);
          }
          return;
        }
        const { fh, size } = opened;
        try {
          await writeChunk(Buffer.from(HEADER_FILE));
          await writeChunk(Buffer.from(`${size},${name}`, 'utf8'));
          let offset = 0;
          while (offset < size) {
            if (closed) return;
            const want = Math.min(FILE_CHUNK_BYTES, size - offset);
            const chunk = Buffer.allocUnsafe(want);
            const { bytesRead } = await fh.read(chunk, 0, want, offset);
            if (bytesRead === 0) throw new Error('stored file ended early');
            offset += bytesRead;
            // One read's worth of the client's recv(65536) per write, each drained and paced.
            await writeChunk(chunk.subarray(0, bytesRead));
          }
        } finally {
          await fh.close().catch(() => {});
        }
      });

    // ---- Events from the hub: only the bridged room's ----

    function deliver(event: HubEvent) {
      if (closed) return;
      switch (event.kind) {
        case 'message':
          if (event.message.room !== roomId) return;
          if (event.message.kind === 'file' && event.message.file) sendFile(event.message);
          else sendText(chatLine(event.message.sender.name, event.message.body));
          return;
        case 'presence': {
          if (event.room !== roomId) return;
          const name = event.user.name;
          if (event.event === 'joined') sendText(joinedText(name, event.count));
          else if (event.event === 'rejoined') sendText(rejoinedText(name));
          else if (event.event === 'left') sendText(leftText(name));
          else if (event.event === 'disconnected') sendText(deactivatedText(name));
          // 'offline' (a grace period ran out) has no words in the seed: nothing is shown.
          return;
        }
        case 'membership':
          // Removed from the bridged room by an admin: the door has nothing left to offer.
          if (event.event === 'removed' && event.room.id === roomId) {
            // Any armed input timer would move the phase on again: stop it, and cut the socket
            // if the client does not hang up after reading its last words.
            clearTimer();
            if (phase.kind === 'data') abandonFile(phase, 'Removed from the room');
            phase = { kind: 'done' };
            buf = Buffer.alloc(0);
            socket.setTimeout(LINGER_MS, () => socket.destroy());
            detach(true);
            sendText(`${MESSAGE_REFUSED}: 대화방에서 내보내졌습니다.`);
            enqueueOut(async () => {
              socket.end();
            });
          }
          return;
        case 'direct':
          return;
      }
    }

    function detach(clean: boolean) {
      if (!conn || detached) return;
      detached = true;
      chat.disconnect(conn, clean);
    }

    // ---- Input ----

    const clearTimer = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };
    const arm = (ms: number, fn: () => void) => {
      clearTimer();
      timer = setTimeout(fn, ms);
    };

    function flow() {
      const stop =
        (phase.kind === 'data' && phase.blocked) ||
        (buf.length > MAX_BUFFERED_INPUT && phase.kind !== 'data' && phase.kind !== 'skip' && phase.kind !== 'done');
      if (stop && !socket.isPaused()) socket.pause();
      else if (!stop && socket.isPaused() && !closed) socket.resume();
    }

    function finishLogin(raw: Buffer) {
      phase = { kind: 'authenticating' };
      clearTimeout(loginTimer);
      track(
        login(raw.toString('utf8').replace(/\r?\n?$/, '')).catch((err: unknown) => {
          log({ err }, 'seed 003 TCP login failed');
          socket.destroy();
        }),
      );
    }

    function refuse(word: string) {
      phase = { kind: 'done' };
      buf = Buffer.alloc(0);
      sendWord(word);
      enqueueOut(async () => {
        socket.end();
      });
      socket.setTimeout(LINGER_MS, () => socket.destroy());
    }

    async function login(text: string) {
      const slash = text.indexOf('/');
      const id = slash > 0 ? text.slice(0, slash) : '';
      const password = slash > 0 ? text.slice(slash + 1) : '';
      if (id.trim() === '' || password === '') return refuse(REPLY_WRONG_PASSWORD);
      let found: User;
      try {
        found = await core.accounts.verifyCredentials(id, password, ctx);
      } catch (err) {
        const registered = err instanceof AppError && err.code === 'INVALID_CREDENTIALS' ? await register(id, password) : undefined;
        if (!registered) {
          if (serverFault(err)) log({ err }, 'seed 003 TCP login failed');
          return refuse(REPLY_WRONG_PASSWORD);
        }
        found = registered;
      }
      // The client went away (or hung up) while the password was checked.
      if (closed || phase.kind !== 'authenticating') return;
      // Someone is already chatting under this id (here or on the web); a dropped one may come back.
      if (chat.presenceOf(userKey(found.id)) === 'online' || loggingIn.has(found.id)) return refuse(REPLY_ALREADY_ONLINE);
      loggingIn.add(found.id);
      try {
        const room = await chat.rooms.joinOrCreateByName(found, options.room);
        if (closed || phase.kind !== 'authenticating') return;
        user = found;
        accounts.set(socket, found.id);
        roomId = room.id;
        conn = { id: randomId('tcp'), participant: chat.participantOf(found), deliver };
        sendWord(REPLY_WELCOME);
        phase = { kind: 'header' };
        // Attaches synchronously (the user is online from here on), then follows their rooms.
        const attached = chat.connect(conn);
        loggingIn.delete(found.id);
        await attached;
      } catch (err) {
        log({ err }, 'seed 003 TCP login could not join the room');
        detached = true;
        socket.destroy();
        return;
      } finally {
        loggingIn.delete(found.id);
      }
      if (closed) detach(false);
      pump();
      flow();
    }

    async function register(id: string, password: string): Promise<User | undefined> {
      if (!options.autoRegister) return undefined;
      try {
        const input = id.includes('@') ? { email: id, password } : { username: id, password };
        return await core.accounts.register(input, ctx);
      } catch (err) {
        if (serverFault(err)) log({ err }, 'seed 003 TCP auto-registration failed');
        return undefined;
      }
    }

    function finishText(raw: Buffer) {
      const body = bodyOf(raw.toString('utf8'));
      const sender = user;
      if (!sender || body.trim() === '') return; // tkinter sends "\n" for an empty box: nothing to say
      if (rateLimited()) {
        sendText(messageRefusal(new AppError('RATE_LIMITED', 'slow down')));
        return;
      }
      const next = sendChain.then(async () => {
        try {
          const { committed } = await chat.messages.enqueue(sender, roomId, { body });
          track(
            committed.catch((err: unknown) => {
              if (serverFault(err)) log({ err }, 'seed 003 TCP message failed');
              sendText(messageRefusal(err));
            }),
          );
        } catch (err) {
          if (serverFault(err)) log({ err }, 'seed 003 TCP message failed');
          sendText(messageRefusal(err));
        }
      });
      sendChain = next;
      track(next);
    }

    /** A `[FILE]` info line arrived: start storing (or discarding) exactly `size` bytes. */
    function startFile(rawInfo: Buffer) {
      const owner = user as User;
      const parsed = parseFileInfo(rawInfo.toString('utf8').replace(/\r$/, ''));
      if ('error' in parsed) {
        if (parsed.error === 'size') {
          // The stream cannot be followed any more: skip what comes until the client is quiet.
          sendText(`${FILE_REFUSED}: 파일 크기가 올바르지 않습니다.`);
          phase = { kind: 'skip' };
          return;
        }
        sendText(`${FILE_REFUSED}: 파일 이름이 올바르지 않습니다.`);
        // The size is known: its bytes are read and dropped, and the connection goes on.
        phase = { kind: 'data', remaining: parsed.size, sink: undefined, blocked: false };
        return;
      }
      if (rateLimited()) {
        sendText(fileRefusal(new AppError('RATE_LIMITED', 'slow down')));
        phase = { kind: 'data', remaining: parsed.size, sink: undefined, blocked: false };
        return;
      }
      const sink = new PassThrough({ highWaterMark: 256 * 1024 });
      const data: Phase & { kind: 'data' } = { kind: 'data', remaining: parsed.size, sink, blocked: false };
      phase = data;
      const stop = () => {
        // Refused or failed: the rest of the announced bytes are read and dropped.
        if (data.sink === sink) {
          data.sink = undefined;
          data.blocked = false;
          flow();
        }
        sink.destroy();
      };
      sink.on('error', () => {});
      // upload() checks the size against the upload limit and the quota before storing a byte.
      const uploaded = core.files.upload(owner, sink, parsed.name, parsed.size);
      uploaded.catch(() => stop());
      const next = sendChain.then(async () => {
        let fileId: string | undefined;
        try {
          const file = await uploaded;
          fileId = file.id;
          await chat.messages.shareFile(owner, roomId, file.id);
        } catch (err) {
          if (serverFault(err)) log({ err }, 'seed 003 TCP file failed');
          if (!closed) sendText(fileRefusal(err));
          // Stored but not shared: do not keep a file nobody asked to keep.
          if (fileId) await core.files.remove(owner, fileId).catch(() => {});
        }
      });
      sendChain = next;
      track(next);
      if (parsed.size === 0) {
        data.sink = undefined;
        sink.end();
      }
    }

    function feedFile(data: Phase & { kind: 'data' }, chunk: Buffer) {
      const sink = data.sink;
      if (!sink) return;
      if (!sink.write(chunk)) {
        data.blocked = true;
        sink.once('drain', () => {
          data.blocked = false;
          flow();
        });
      }
    }

    function abandonFile(data: Phase & { kind: 'data' }, reason: string) {
      const sink = data.sink;
      data.sink = undefined;
      data.blocked = false;
      sink?.destroy(new AppError('UPLOAD_INCOMPLETE', reason));
    }

    function exit() {
      phase = { kind: 'done' };
      buf = Buffer.alloc(0);
      // A clean leave: the others hear "퇴장" now; the client gets its [!EXIT] after what is queued.
      detach(true);
      sendWord(HEADER_EXIT);
      enqueueOut(async () => {
        socket.end();
      });
      socket.setTimeout(LINGER_MS, () => socket.destroy());
    }

    /** Consumes as much of `buf` as the current phase allows. */
    function pump() {
      for (;;) {
        if (closed) return;
        switch (phase.kind) {
          case 'login': {
            const nl = buf.indexOf(0x0a);
            const inside = headerInside(buf);
            const end = nl >= 0 && (inside < 0 || nl < inside) ? nl : inside;
            if (end >= 0) {
              const raw = buf.subarray(0, end);
              buf = buf.subarray(nl === end ? end + 1 : end);
              return finishLogin(raw);
            }
            if (buf.length > MAX_LOGIN_BYTES) return refuse(REPLY_WRONG_PASSWORD);
            if (buf.length === 0) return;
            const clean = incompleteUtf8Tail(buf) === 0 && buf.includes(0x2f);
            arm(clean ? gapMs : partialGapMs, () => {
              const raw = buf;
              buf = Buffer.alloc(0);
              finishLogin(raw);
            });
            return;
          }
          case 'authenticating':
          case 'done':
            if (phase.kind === 'done') buf = Buffer.alloc(0);
            return;
          case 'header': {
            if (buf.length === 0) return;
            const h = matchHeader(buf);
            if (h === 'partial') return;
            if (!h) {
              // Not a frame: skip to the next '[' (the seed would ignore it too).
              const next = buf.indexOf(0x5b, 1);
              buf = next < 0 ? Buffer.alloc(0) : buf.subarray(next);
              continue;
            }
            buf = buf.subarray(h.length);
            if (h.kind === 'exit') return exit();
            phase = h.kind === 'message' ? { kind: 'text' } : { kind: 'info' };
            continue;
          }
          case 'text': {
            const end = textEnd(buf);
            if (end >= 0 || buf.length >= MAX_TEXT_BYTES) {
              const cut = end >= 0 ? end : MAX_TEXT_BYTES - incompleteUtf8Tail(buf.subarray(0, MAX_TEXT_BYTES));
              const raw = buf.subarray(0, cut);
              buf = buf.subarray(cut);
              phase = { kind: 'header' };
              finishText(raw);
              continue;
            }
            if (buf.length === 0) return;
            const clean = incompleteUtf8Tail(buf) === 0 && buf[buf.length - 1] === 0x0a;
            arm(clean ? gapMs : partialGapMs, () => {
              const raw = buf;
              buf = Buffer.alloc(0);
              phase = { kind: 'header' };
              finishText(raw);
              pump();
              flow();
            });
            return;
          }
          case 'info': {
            const nl = buf.indexOf(0x0a);
            if (nl >= 0 && nl <= MAX_INFO_BYTES) {
              const raw = buf.subarray(0, nl);
              buf = buf.subarray(nl + 1);
              startFile(raw);
              continue;
            }
            if (buf.length > MAX_INFO_BYTES) {
              buf = Buffer.alloc(0);
              sendText(`${FILE_REFUSED}: 파일 정보가 올바르지 않습니다.`);
              phase = { kind: 'skip' };
              continue;
            }
            if (buf.length === 0) return;
            arm(incompleteUtf8Tail(buf) === 0 ? gapMs : partialGapMs, () => {
              const raw = buf;
              buf = Buffer.alloc(0);
              startFile(raw);
              pump();
              flow();
            });
            return;
          }
          case 'data': {
            const data = phase;
            if (data.remaining === 0) {
              data.sink?.end();
              phase = { kind: 'header' };
              continue;
            }
            if (buf.length > 0) {
              const take = Math.min(data.remaining, buf.length);
              feedFile(data, buf.subarray(0, take));
              buf = buf.subarray(take);
              data.remaining -= take;
              continue;
            }
            // The client announced more than it sends: give up after a quiet while, keep nothing.
            const idle = () => {
              if (phase !== data) return;
              // Waiting on our own disk (reading paused) is not the client going quiet.
              if (data.blocked) return arm(fileIdleMs, idle);
              abandonFile(data, 'The file stopped arriving');
              phase = { kind: 'header' };
              flow();
            };
            arm(fileIdleMs, idle);
            return;
          }
          case 'skip':
            buf = Buffer.alloc(0);
            arm(skipQuietMs, () => {
              phase = { kind: 'header' };
              pump();
              flow();
            });
            return;
        }
      }
    }

    const loginTimer = setTimeout(() => {
      if (phase.kind === 'login') socket.destroy();
    }, loginTimeoutMs);

    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    // Resets and broken pipes end up in 'close'.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (closed || phase.kind === 'done') return;
      clearTimer();
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      pump();
      flow();
    });
    socket.on('end', () => {
      // After [!EXIT] or a refused login the queued reply ends the connection.
      if (phase.kind === 'done') return;
      // Otherwise the client stopped sending without a goodbye: a drop. What it sent before still
      // counts; what is queued for it still goes out, then the connection ends.
      clearTimer();
      if (phase.kind === 'text' && buf.length > 0) {
        const raw = buf;
        buf = Buffer.alloc(0);
        finishText(raw);
      }
      if (phase.kind === 'data') abandonFile(phase, 'The connection closed during the file');
      phase = { kind: 'done' };
      detach(false);
      enqueueOut(async () => {
        socket.end();
      });
      socket.setTimeout(LINGER_MS, () => socket.destroy());
    });
    socket.on('close', () => {
      closed = true;
      clearTimer();
      clearTimeout(loginTimer);
      sockets.delete(socket);
      accounts.delete(socket);
      // A file cut off mid-way is abandoned: its temp file is removed, no row is written.
      if (phase.kind === 'data') abandonFile(phase, 'The connection closed during the file');
      // Without [!EXIT] the others hear "비활성" and the user may come back within the grace period.
      detach(false);
    });
  }

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    if (sockets.size >= maxConnections) {
      // The seed has no word for "full": the connection is simply closed.
      socket.destroy();
      return;
    }
    sockets.add(socket);
    serve(socket);
  });

  const port = await listenDoor(server, options.host, options.port, (err) => log({ err }, 'seed 003 TCP door error'));

  return {
    port,
    async close() {
      clearInterval(recheck);
      // Sends and uploads in flight settle before the caller closes the database.
      await closeDoor(server, sockets, work);
    },
  };
}
