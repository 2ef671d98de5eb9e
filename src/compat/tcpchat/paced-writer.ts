import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOrderedQueue, type OrderedQueue } from '../../shared/ordered-queue.js';
import { drainOrClose } from '../tcp-door.js';
import { splitUtf8 } from './framing.js';
import { HEADER_MESSAGE } from './words.js';

/**
 * One connection's output: one queue, every header and every payload its own write, each drained
 * and followed by a pause, so that no two land in one of the seed client's reads.
 */

export interface PacedWriterOptions {
  pauseMs: number;
  /** Frames waiting for a client that does not read; past this `onOverflow` runs instead. */
  maxQueuedFrames: number;
  /** The client does not read: the caller drops it. */
  onOverflow(): void;
  /** A queued write failed (a stored file could not be read, ...): the caller drops the connection. */
  onError(err: unknown): void;
  /** Work that must finish before the database closes. */
  track(p: Promise<unknown>): void;
}

export class PacedWriter {
  private readonly queue: OrderedQueue;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: PacedWriterOptions,
  ) {
    this.queue = createOrderedQueue(options.onError);
  }

  /** One write, drained when the socket refuses more, then the pause. */
  async chunk(bytes: Buffer, pause = true): Promise<void> {
    const socket = this.socket;
    if (this.closed || socket.destroyed || !socket.writable) return;
    if (!socket.write(bytes)) {
      await drainOrClose(socket);
    }
    if (pause && this.options.pauseMs > 0) await sleep(this.options.pauseMs);
  }

  /** `[MESG]` + text, written now (from inside a queued job); over 1024 bytes it becomes several frames. */
  async textNow(text: string): Promise<void> {
    for (const piece of splitUtf8(Buffer.from(text, 'utf8'))) {
      await this.chunk(Buffer.from(HEADER_MESSAGE));
      await this.chunk(piece);
    }
  }

  enqueue(job: () => Promise<void>): void {
    if (this.closed) return;
    if (this.queue.pending >= this.options.maxQueuedFrames) {
      this.options.onOverflow();
      return;
    }
    this.queue.push(job);
    this.options.track(this.queue.idle());
  }

  word(word: string): void {
    this.enqueue(() => this.chunk(Buffer.from(word, 'utf8')));
  }

  /** `[MESG]` + text; over 1024 bytes it becomes several frames, split between characters. */
  text(text: string): void {
    for (const piece of splitUtf8(Buffer.from(text, 'utf8'))) {
      this.enqueue(async () => {
        await this.chunk(Buffer.from(HEADER_MESSAGE));
        await this.chunk(piece);
      });
    }
  }

  /** After everything queued: end the connection. */
  end(): void {
    this.enqueue(async () => {
      this.socket.end();
    });
  }

  /** The socket closed: nothing queued is written any more. */
  close(): void {
    this.closed = true;
    this.queue.close();
  }
}
