import type net from 'node:net';
import type { RequestContext, User } from '../../accounts/model.js';
import { createFrameLimit } from '../../chat/frame-limit.js';
import type { HubConnection } from '../../chat/hub.js';
import type { ChatMessage, HubEvent } from '../../chat/model.js';
import { describeFailure, failure, logFailure } from '../../shared/error-map.js';
import { randomId } from '../../shared/ids.js';
import { createOrderedQueue, type OrderedQueue } from '../../shared/ordered-queue.js';
import { type DoorContext, LINGER_MS } from './context.js';
import { sendStoredFile, startUpload } from './file-transfer.js';
import { bodyOf } from './framing.js';
import { type Entrant, login } from './login.js';
import { PacedWriter } from './paced-writer.js';
import { presenceLine } from './presence.js';
import { type Phase, Reader } from './reader.js';
import {
  BAD_FILE_INFO,
  chatLine,
  HEADER_EXIT,
  messageRefusal,
  REMOVED_FROM_ROOM,
  REPLY_WELCOME,
  REPLY_WRONG_PASSWORD,
} from './words.js';

/**
 * One seed 003 connection: its reader (input phases), its paced writer (output), the login, and
 * what each finished frame does — a text is sent to the bridged room, a file stored and shared,
 * `[!EXIT]` a clean leave — plus what the hub says about that room.
 */
export class TcpChatSession implements Entrant {
  readonly ctx: RequestContext;
  readonly reader: Reader;
  readonly out: PacedWriter;
  /** The socket closed. */
  closed = false;
  /** The client's sends and file shares, committed in the order it made them. */
  private readonly sends: OrderedQueue;
  private readonly rateLimited: () => boolean;
  private readonly loginTimer: NodeJS.Timeout;
  private user: User | undefined;
  private roomId = 0;
  private conn: HubConnection | undefined;
  private detached = false;

  constructor(
    readonly door: DoorContext,
    private readonly socket: net.Socket,
  ) {
    const ip = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.ctx = { ip, userAgent: 'seed-003-tcp' };
    const { settings, log } = door;
    this.rateLimited = createFrameLimit(settings.framesPer10s);
    this.sends = createOrderedQueue((err) => logFailure(log, err, describeFailure(err), 'seed 003 TCP send failed'));
    this.out = new PacedWriter(socket, {
      pauseMs: settings.pauseMs,
      maxQueuedFrames: settings.maxQueuedFrames,
      onOverflow: () => {
        log.error({ ip, user: this.user?.username }, 'seed 003 TCP client is not reading; dropping it');
        socket.destroy();
      },
      onError: (err) => {
        logFailure(log, err, describeFailure(err), 'seed 003 TCP write failed');
        socket.destroy();
      },
      track: (p) => door.track(p),
    });
    this.reader = new Reader(socket, settings, {
      login: (raw) => this.finishLogin(raw),
      loginTooLong: () => this.refuse(REPLY_WRONG_PASSWORD),
      text: (raw) => this.finishText(raw),
      fileInfo: (raw) => this.startFile(raw),
      infoTooLong: () => this.out.text(BAD_FILE_INFO),
      exit: () => this.exit(),
      closed: () => this.closed,
    });
    this.loginTimer = setTimeout(() => {
      if (this.reader.phase.kind === 'login') socket.destroy();
    }, settings.loginTimeoutMs);
    this.listen();
  }

  // ---- The login (login.ts) ----

  authenticating(): boolean {
    return this.reader.phase.kind === 'authenticating';
  }

  refuse(word: string): void {
    this.reader.stop();
    this.out.word(word);
    this.out.end();
    this.lingerThenCut();
  }

  admit(user: User, roomId: number): Promise<unknown> {
    const { chat } = this.door.core;
    this.user = user;
    this.door.accounts.set(this.socket, user.id);
    this.roomId = roomId;
    const conn: HubConnection = { id: randomId('tcp'), participant: chat.participantOf(user), deliver: (e) => this.deliver(e) };
    this.conn = conn;
    this.out.word(REPLY_WELCOME);
    this.reader.phase = { kind: 'header' };
    // Attaches synchronously (the user is online from here on), then follows their rooms.
    return chat.connect(conn);
  }

  entered(): void {
    if (this.closed) this.detach(false);
    this.reader.pump();
    this.reader.flow();
  }

  abort(): void {
    this.detached = true;
    this.socket.destroy();
  }

  private finishLogin(raw: Buffer): void {
    this.reader.phase = { kind: 'authenticating' };
    clearTimeout(this.loginTimer);
    this.door.track(
      login(this, raw.toString('utf8').replace(/\r?\n?$/, '')).catch((err: unknown) => {
        logFailure(this.door.log, err, describeFailure(err), 'seed 003 TCP login failed');
        this.socket.destroy();
      }),
    );
  }

  // ---- Frames from the client ----

  private finishText(raw: Buffer): void {
    const body = bodyOf(raw.toString('utf8'));
    const sender = this.user;
    if (!sender || body.trim() === '') return; // tkinter sends "\n" for an empty box: nothing to say
    if (this.rateLimited()) {
      this.out.text(messageRefusal(failure('RATE_LIMITED', 'slow down')));
      return;
    }
    this.sends.push(() => this.send(sender, body));
    this.door.track(this.sends.idle());
  }

  private async send(sender: User, body: string): Promise<void> {
    try {
      const { committed } = await this.door.core.chat.messages.enqueue(sender, this.roomId, { body });
      this.door.track(committed.catch((err: unknown) => this.messageFailed(err)));
    } catch (err) {
      this.messageFailed(err);
    }
  }

  /** The client hears why in the seed's words; the log only when the server, not the client, failed. */
  private messageFailed(err: unknown): void {
    const f = describeFailure(err);
    logFailure(this.door.log, err, f, 'seed 003 TCP message failed');
    this.out.text(messageRefusal(f));
  }

  private startFile(raw: Buffer): Phase {
    const { core, log } = this.door;
    return startUpload(
      {
        core,
        owner: this.user as User,
        roomId: this.roomId,
        out: this.out,
        sends: this.sends,
        rateLimited: this.rateLimited,
        flow: () => this.reader.flow(),
        closed: () => this.closed,
        log,
        track: (p) => this.door.track(p),
      },
      raw,
    );
  }

  private exit(): void {
    this.reader.stop();
    // A clean leave: the others hear "퇴장" now; the client gets its [!EXIT] after what is queued.
    this.detach(true);
    this.out.word(HEADER_EXIT);
    this.out.end();
    this.lingerThenCut();
  }

  // ---- Events from the hub: only the bridged room's ----

  private deliver(event: HubEvent): void {
    if (this.closed) return;
    switch (event.kind) {
      case 'message':
        if (event.message.room !== this.roomId) return;
        if (event.message.kind === 'file' && event.message.file) this.sendFile(event.message);
        else this.out.text(chatLine(event.message.sender.name, event.message.body));
        return;
      case 'presence': {
        if (event.room !== this.roomId) return;
        const line = presenceLine(event);
        if (line !== undefined) this.out.text(line);
        return;
      }
      case 'membership':
        // Removed from the bridged room by an admin: the door has nothing left to offer.
        if (event.event === 'removed' && event.room.id === this.roomId) this.removed();
        return;
      case 'relay':
        if (event.room === this.roomId) this.out.text(chatLine(event.from.name, event.body));
        return;
      case 'direct':
        return;
    }
  }

  private sendFile(message: ChatMessage): void {
    this.out.enqueue(async () => {
      const viewer = this.user;
      if (viewer) await sendStoredFile(this.door.core, this.out, viewer, message, () => this.closed);
    });
  }

  private removed(): void {
    // Any armed input timer would move the phase on again: stop it, and cut the socket
    // if the client does not hang up after reading its last words.
    this.reader.clearTimer();
    this.reader.abandonAnyFile('Removed from the room');
    this.reader.stop();
    this.lingerThenCut();
    this.detach(true);
    this.out.text(REMOVED_FROM_ROOM);
    this.out.end();
  }

  private detach(clean: boolean): void {
    if (!this.conn || this.detached) return;
    this.detached = true;
    this.door.core.chat.disconnect(this.conn, clean);
  }

  // ---- The socket ----

  private lingerThenCut(): void {
    this.socket.setTimeout(LINGER_MS, () => this.socket.destroy());
  }

  private listen(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    // Resets and broken pipes end up in 'close'.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (this.closed || this.reader.phase.kind === 'done') return;
      this.reader.receive(chunk);
    });
    socket.on('end', () => this.ended());
    socket.on('close', () => this.gone());
  }

  private ended(): void {
    const reader = this.reader;
    // After [!EXIT] or a refused login the queued reply ends the connection.
    if (reader.phase.kind === 'done') return;
    // Otherwise the client stopped sending without a goodbye: a drop. What it sent before still
    // counts; what is queued for it still goes out, then the connection ends.
    reader.clearTimer();
    if (reader.phase.kind === 'text' && reader.buf.length > 0) reader.takeText();
    reader.abandonAnyFile('The connection closed during the file');
    reader.phase = { kind: 'done' };
    this.detach(false);
    this.out.end();
    this.lingerThenCut();
  }

  private gone(): void {
    this.closed = true;
    this.out.close();
    this.reader.clearTimer();
    clearTimeout(this.loginTimer);
    this.door.accounts.delete(this.socket);
    // A file cut off mid-way is abandoned: its temp file is removed, no row is written.
    this.reader.abandonAnyFile('The connection closed during the file');
    // Without [!EXIT] the others hear "비활성" and the user may come back within the grace period.
    this.detach(false);
  }
}
