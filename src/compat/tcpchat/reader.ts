import type net from 'node:net';
import type { PassThrough } from 'node:stream';
import { AppError } from '../../shared/errors.js';
import { headerInside, incompleteUtf8Tail, matchHeader, MAX_INFO_BYTES, MAX_LOGIN_BYTES, MAX_TEXT_BYTES, textEnd } from './framing.js';

/**
 * One connection's input as a phase machine: the login, then frames (a header, then a text, or a
 * file's info line and its bytes). A text ends where a newline is followed by the next header, or
 * after a short quiet gap (longer when the bytes end inside a UTF-8 character or without the
 * newline). The login and a file's info line end at a newline or a quiet gap. Anything else
 * between frames is skipped up to the next `[`. What a frame means is the session's business.
 */

export type Phase =
  | { kind: 'login' }
  | { kind: 'authenticating' }
  | { kind: 'header' }
  | { kind: 'text' }
  | { kind: 'info' }
  | DataPhase
  | { kind: 'skip' }
  | { kind: 'done' };

/** A file's bytes: `remaining` of them still to read; stored through `sink`, or dropped when it is unset. */
export interface DataPhase {
  kind: 'data';
  remaining: number;
  sink: PassThrough | undefined;
  /** The sink is full (our disk is slower than the client): reading is paused. */
  blocked: boolean;
}

export interface ReaderTimes {
  /** Quiet time that ends a login, a text ending in a newline, or a file's info line. */
  gapMs: number;
  /** Quiet time that ends a text (or login) that stops without a newline or inside a character. */
  partialGapMs: number;
  /** A file whose bytes stop arriving for this long is abandoned (nothing is kept). */
  fileIdleMs: number;
  /** After an unreadable `[FILE]` info line, input is skipped until it has been quiet this long. */
  skipQuietMs: number;
}

/** What the session does with a finished frame. */
export interface ReaderHandlers {
  login(raw: Buffer): void;
  /** A login longer than any login. */
  loginTooLong(): void;
  text(raw: Buffer): void;
  /** A `[FILE]` info line: the phase that reads the file's bytes (or skips). */
  fileInfo(raw: Buffer): Phase;
  /** An info line longer than any info line. */
  infoTooLong(): void;
  exit(): void;
  closed(): boolean;
}

/** Input held while a login or a file check is awaited; past it the socket stops reading. */
const MAX_BUFFERED_INPUT = 256 * 1024;
const EMPTY = Buffer.alloc(0);

export class Reader {
  phase: Phase = { kind: 'login' };
  buf: Buffer = EMPTY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly times: ReaderTimes,
    private readonly on: ReaderHandlers,
  ) {}

  receive(chunk: Buffer): void {
    this.clearTimer();
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.pump();
    this.flow();
  }

  /** No more input is wanted (a refusal, an exit, a removal): whatever is buffered is dropped. */
  stop(): void {
    this.phase = { kind: 'done' };
    this.buf = EMPTY;
  }

  clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  arm(ms: number, fn: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(fn, ms);
  }

  /** Pauses the socket while the file sink is full or too much input waits on a login or a check. */
  flow(): void {
    const phase = this.phase;
    const stop =
      (phase.kind === 'data' && phase.blocked) ||
      (this.buf.length > MAX_BUFFERED_INPUT && phase.kind !== 'data' && phase.kind !== 'skip' && phase.kind !== 'done');
    if (stop && !this.socket.isPaused()) this.socket.pause();
    else if (!stop && this.socket.isPaused() && !this.on.closed()) this.socket.resume();
  }

  /** Consumes as much of the buffer as the current phase allows. */
  pump(): void {
    while (!this.on.closed() && this.step()) {
      // Each step consumed something and the next phase may consume more.
    }
  }

  /** Takes what buffered text there is as the whole text (a quiet gap, or the client hung up). */
  takeText(): void {
    const raw = this.buf;
    this.buf = EMPTY;
    this.phase = { kind: 'header' };
    this.on.text(raw);
  }

  /** One phase's turn; true when the loop should go on. */
  private step(): boolean {
    switch (this.phase.kind) {
      case 'login':
        return this.login();
      case 'authenticating':
        return false;
      case 'done':
        this.buf = EMPTY;
        return false;
      case 'header':
        return this.header();
      case 'text':
        return this.text();
      case 'info':
        return this.info();
      case 'data':
        return this.data(this.phase);
      case 'skip':
        this.buf = EMPTY;
        this.arm(this.times.skipQuietMs, () => this.resumeAt({ kind: 'header' }));
        return false;
    }
  }

  /** A timer ended a phase: go on from `next` with what has arrived meanwhile. */
  private resumeAt(next: Phase): void {
    this.phase = next;
    this.pump();
    this.flow();
  }

  private login(): boolean {
    const buf = this.buf;
    const nl = buf.indexOf(0x0a);
    const inside = headerInside(buf);
    const end = nl >= 0 && (inside < 0 || nl < inside) ? nl : inside;
    if (end >= 0) {
      const raw = buf.subarray(0, end);
      this.buf = buf.subarray(nl === end ? end + 1 : end);
      this.on.login(raw);
      return false;
    }
    if (buf.length > MAX_LOGIN_BYTES) {
      this.on.loginTooLong();
      return false;
    }
    if (buf.length === 0) return false;
    const clean = incompleteUtf8Tail(buf) === 0 && buf.includes(0x2f);
    this.arm(clean ? this.times.gapMs : this.times.partialGapMs, () => {
      const raw = this.buf;
      this.buf = EMPTY;
      this.on.login(raw);
    });
    return false;
  }

  private header(): boolean {
    const buf = this.buf;
    if (buf.length === 0) return false;
    const h = matchHeader(buf);
    if (h === 'partial') return false;
    if (!h) {
      // Not a frame: skip to the next '[' (the seed would ignore it too).
      const next = buf.indexOf(0x5b, 1);
      this.buf = next < 0 ? EMPTY : buf.subarray(next);
      return true;
    }
    this.buf = buf.subarray(h.length);
    if (h.kind === 'exit') {
      this.on.exit();
      return false;
    }
    this.phase = h.kind === 'message' ? { kind: 'text' } : { kind: 'info' };
    return true;
  }

  private text(): boolean {
    const buf = this.buf;
    const end = textEnd(buf);
    if (end >= 0 || buf.length >= MAX_TEXT_BYTES) {
      const cut = end >= 0 ? end : MAX_TEXT_BYTES - incompleteUtf8Tail(buf.subarray(0, MAX_TEXT_BYTES));
      const raw = buf.subarray(0, cut);
      this.buf = buf.subarray(cut);
      this.phase = { kind: 'header' };
      this.on.text(raw);
      return true;
    }
    if (buf.length === 0) return false;
    const clean = incompleteUtf8Tail(buf) === 0 && buf[buf.length - 1] === 0x0a;
    this.arm(clean ? this.times.gapMs : this.times.partialGapMs, () => {
      this.takeText();
      this.pump();
      this.flow();
    });
    return false;
  }

  private info(): boolean {
    const buf = this.buf;
    const nl = buf.indexOf(0x0a);
    if (nl >= 0 && nl <= MAX_INFO_BYTES) {
      const raw = buf.subarray(0, nl);
      this.buf = buf.subarray(nl + 1);
      this.phase = this.on.fileInfo(raw);
      return true;
    }
    if (buf.length > MAX_INFO_BYTES) {
      this.buf = EMPTY;
      this.on.infoTooLong();
      this.phase = { kind: 'skip' };
      return true;
    }
    if (buf.length === 0) return false;
    this.arm(incompleteUtf8Tail(buf) === 0 ? this.times.gapMs : this.times.partialGapMs, () => {
      const raw = this.buf;
      this.buf = EMPTY;
      this.resumeAt(this.on.fileInfo(raw));
    });
    return false;
  }

  private data(data: DataPhase): boolean {
    if (data.remaining === 0) {
      data.sink?.end();
      this.phase = { kind: 'header' };
      return true;
    }
    if (this.buf.length > 0) {
      const take = Math.min(data.remaining, this.buf.length);
      this.feedFile(data, this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      data.remaining -= take;
      return true;
    }
    // The client announced more than it sends: give up after a quiet while, keep nothing.
    const idle = () => {
      if (this.phase !== data) return;
      // Waiting on our own disk (reading paused) is not the client going quiet.
      if (data.blocked) return this.arm(this.times.fileIdleMs, idle);
      this.abandonFile(data, 'The file stopped arriving');
      this.phase = { kind: 'header' };
      this.flow();
    };
    this.arm(this.times.fileIdleMs, idle);
    return false;
  }

  private feedFile(data: DataPhase, chunk: Buffer): void {
    const sink = data.sink;
    if (!sink) return;
    if (!sink.write(chunk)) {
      data.blocked = true;
      sink.once('drain', () => {
        data.blocked = false;
        this.flow();
      });
    }
  }

  /** The file cannot complete: its upload fails (the temp file is removed, no row is written). */
  abandonFile(data: DataPhase, reason: string): void {
    const sink = data.sink;
    data.sink = undefined;
    data.blocked = false;
    sink?.destroy(new AppError('UPLOAD_INCOMPLETE', reason));
  }

  /** Whatever the phase, a file in flight is abandoned. */
  abandonAnyFile(reason: string): void {
    if (this.phase.kind === 'data') this.abandonFile(this.phase, reason);
  }
}
