import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';
import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';

/** A server frame (see docs/chat-protocol.md); the fields the client reads. */
export interface ServerFrame {
  type: string;
  [field: string]: unknown;
}

interface Pending {
  frame: Record<string, unknown>;
  /** Times the server answered "database unavailable" for it. */
  refusals: number;
  timer?: NodeJS.Timeout | undefined;
}

/** The wait before resending a message the server could not store: its retryAfter, else 1, 2, 4 … 30 s. */
const resendDelay = (refusals: number, retryAfter: unknown) =>
  typeof retryAfter === 'number' && retryAfter > 0 ? Math.min(retryAfter, 300) * 1000 : Math.min(1000 * 2 ** (refusals - 1), 30_000);

export interface ChatSocketEvents {
  frame(f: ServerFrame): void;
  /** Connection state changes worth a line: reconnecting, reconnected, gave up. */
  status(text: string): void;
}

const MAX_RECONNECTS = 8;
/** WebSocket.OPEN (the class itself loads lazily). */
const OPEN = 1;
/** A close the server will refuse again: do not reconnect. */
const FINAL = new Set([1000, 1008, 4001, 4029]);

/**
 * The native chat socket for the client: bearer auth, per-room cursors (the highest `seq` seen),
 * reconnect with `?resume=` so missed messages arrive once and in order, and sends kept with their
 * `clientId` until acked (resent after a reconnect: the server stores a resend once).
 */
export class ChatSocket {
  private ws: WebSocket | undefined;
  private readonly cursors = new Map<number, number>();
  private readonly pending = new Map<string, Pending>();
  private closing = false;
  private attempts = 0;
  private ended: Promise<void>;
  private end!: (err?: unknown) => void;

  constructor(
    private readonly api: ApiClient,
    private readonly events: ChatSocketEvents,
  ) {
    this.ended = new Promise<void>((resolve, reject) => {
      this.end = (err?: unknown) => (err ? reject(err) : resolve());
    });
  }

  /** Resolves when the socket is finally closed (by `quit`, the server, or failed reconnects). */
  get done(): Promise<void> {
    return this.ended;
  }

  get unacked(): number {
    return this.pending.size;
  }

  async connect(): Promise<void> {
    const token = await this.api.accessToken();
    const resume = [...this.cursors].map(([room, seq]) => `${room}:${seq}`).join(',');
    const url = new URL(this.api.url('/api/chat'));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (resume) url.searchParams.set('resume', resume);
    // ws loads only for chat: the other verbs start without it.
    const { default: Socket } = await import('ws');
    const ws = new Socket(url, { headers: { authorization: `Bearer ${token}` }, maxPayload: 1024 * 1024 });
    this.ws = ws;
    // The hello can arrive in the same read as the upgrade's answer: listen before 'open'.
    let opened = false;
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', (code, reason) => {
      if (opened) void this.onClose(code, String(reason));
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        reject(res.statusCode === 401
          ? new ClientError('SESSION_EXPIRED', 'The server refused the chat login. Log in again with `plaza login`.', EXIT.auth)
          : new ClientError('CHAT_REFUSED', `The server refused the chat connection (HTTP ${res.statusCode}).`, EXIT.failure));
      });
      ws.once('error', (err) => reject(err));
    });
    opened = true;
    ws.on('error', () => {});
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.timer = undefined;
      this.write(p.frame);
    }
  }

  /**
   * An error frame for a pending send whose code says the server could not store it right now
   * (DATABASE_UNAVAILABLE): the message stays pending and goes again, with the same clientId, after
   * a backoff; the server stores a clientId once, so a resend is never a duplicate.
   */
  private refused(f: ServerFrame): boolean {
    if (f.type !== 'error' || f.code !== 'DATABASE_UNAVAILABLE') return false;
    const id = typeof f.clientId === 'string' ? f.clientId : typeof f.ref === 'string' ? f.ref : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return false;
    p.refusals++;
    const delay = resendDelay(p.refusals, f.retryAfter);
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      p.timer = undefined;
      if (this.pending.has(id) && !this.closing) this.write(p.frame);
    }, delay);
    this.events.status(`the server's database is unavailable; your message is kept and goes again in ${(delay / 1000).toFixed(0)} s`);
    return true;
  }

  private onFrame(text: string) {
    let f: ServerFrame;
    try {
      f = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (f.type === 'hello') this.attempts = 0;
    if (f.type === 'message' && typeof f.room === 'number' && typeof f.seq === 'number') {
      if (f.seq <= (this.cursors.get(f.room) ?? 0)) return;
      this.cursors.set(f.room, f.seq);
    }
    if (f.type === 'hello' && Array.isArray(f.rooms)) {
      for (const r of f.rooms as Array<{ id: number; lastSeq: number }>) if (!this.cursors.has(r.id)) this.cursors.set(r.id, r.lastSeq);
    }
    if (f.type === 'ack' && typeof f.clientId === 'string') {
      clearTimeout(this.pending.get(f.clientId)?.timer);
      this.pending.delete(f.clientId);
    }
    if (this.refused(f)) return;
    this.events.frame(f);
  }

  private async onClose(code: number, reason: string) {
    if (this.closing || FINAL.has(code)) {
      if (!this.closing && code !== 1000) this.end(new ClientError('CHAT_CLOSED', `The server closed the chat (${code}${reason ? `: ${reason}` : ''}).`, code === 4001 ? EXIT.auth : EXIT.failure));
      else this.end();
      return;
    }
    while (this.attempts < MAX_RECONNECTS && !this.closing) {
      this.attempts++;
      const delay = Math.min(500 * 2 ** (this.attempts - 1), 8000);
      this.events.status(`connection lost; reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${this.attempts})`);
      await new Promise((r) => setTimeout(r, delay));
      try {
        await this.connect();
        this.events.status('reconnected');
        return;
      } catch (err) {
        if (err instanceof ClientError && err.exit === EXIT.auth) {
          this.end(err);
          return;
        }
      }
    }
    this.end(new ClientError('UNREACHABLE', `Lost the chat connection to ${this.api.server} and could not reconnect.`, EXIT.unreachable));
  }

  private write(frame: Record<string, unknown>) {
    if (this.ws?.readyState === OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** A frame that needs no ack tracking (join, members, …). */
  request(frame: Record<string, unknown>) {
    this.write(frame);
  }

  /** A message, kept until its ack (and resent after a reconnect). */
  send(target: { room: number } | { user: string }, body: string): string {
    const clientId = `cli-${randomBytes(8).toString('hex')}`;
    // ref too: an error frame names the frame it answers by its ref.
    const frame = { type: 'send', ...target, body, clientId, ref: clientId };
    this.pending.set(clientId, { frame, refusals: 0 });
    this.write(frame);
    return clientId;
  }

  /** Waits (up to `ms`) for every pending send's ack, then says goodbye. */
  async quit(ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.closing = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    if (this.ws?.readyState === OPEN) {
      this.write({ type: 'bye' });
      this.ws.close(1000);
    } else this.end();
    await this.ended;
  }
}
