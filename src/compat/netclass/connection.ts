import type net from 'node:net';
import type { RequestContext } from '../../accounts/model.js';
import { describeFailure, logFailure } from '../../shared/error-map.js';
import { createOrderedQueue, type OrderedQueue } from '../../shared/ordered-queue.js';
import { seedFailure } from './semantics.js';
import { drainOrClose } from '../tcp-door.js';
import { answer, type Caller, told } from './answer.js';
import { LINGER_MS, type NetclassContext } from './context.js';
import { renderReply, type Reply } from './reply.js';
import { MAX_REQUESTS_PER_BURST, splitRequests } from './requests.js';

/**
 * One seed 001 connection. A request is whatever arrives before a short quiet gap (the client
 * sends each request in one write); a burst's requests are answered strictly in order, one
 * connection's work after another on its queue, and reading pauses meanwhile.
 */
export class NetclassConnection implements Caller {
  readonly ctx: RequestContext;
  sessionId: string | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private gap: ReturnType<typeof setTimeout> | undefined;
  private closing = false;
  private readonly queue: OrderedQueue;

  constructor(
    readonly door: NetclassContext,
    private readonly socket: net.Socket,
  ) {
    // Same IP form as Fastify's request.ip, so both doors share one rate-limit budget per client.
    const ip = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.ctx = { ip, userAgent: 'seed-001-tcp' };
    this.queue = createOrderedQueue((err) => {
      logFailure(door.log, err, describeFailure(err), 'seed 001 TCP connection failed');
      socket.destroy();
    });
    this.listen();
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue.push(job);
    this.door.track(this.queue.idle());
  }

  // A client that stops reading must not make us buffer replies without bound.
  private async write(bytes: Buffer): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    if (socket.write(bytes)) return;
    await drainOrClose(socket);
  }

  /** The last reply, after everything queued; then the connection closes. */
  private finish(last: Reply): void {
    this.closing = true;
    this.socket.setTimeout(LINGER_MS);
    this.enqueue(async () => {
      const socket = this.socket;
      if (!socket.destroyed && !socket.writableEnded) socket.end(renderReply({ ...last, close: true }));
    });
  }

  private flush(): void {
    clearTimeout(this.gap);
    if (this.pendingBytes === 0) return;
    const burst = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    // Nothing more is read while this burst is answered: a client that sends without reading
    // our replies fills its own socket buffers, not our memory.
    this.socket.pause();
    this.enqueue(async () => {
      try {
        await this.answerBurst(burst);
      } finally {
        if (!this.socket.destroyed && !this.closing) this.socket.resume();
      }
    });
  }

  private async answerBurst(burst: string): Promise<void> {
    const requests = splitRequests(burst);
    if (requests.length > MAX_REQUESTS_PER_BURST) {
      this.finish({ status: 429, body: `Too Many Requests: at most ${MAX_REQUESTS_PER_BURST} requests at once` });
      return;
    }
    for (const request of requests) {
      // The client left: do no more work on its behalf.
      if (this.socket.destroyed) return;
      let reply: Reply;
      try {
        reply = await answer(this, request);
      } catch (err) {
        reply = { ...told(this, seedFailure(err)), noBody: request.startsWith('HEAD') };
      }
      await this.write(renderReply(reply));
    }
  }

  private receive(chunk: Buffer): void {
    if (this.closing) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    clearTimeout(this.gap);
    if (this.pendingBytes > this.door.maxRequestBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      this.finish({ status: 413, body: `Payload Too Large: a request may be at most ${this.door.maxRequestBytes} bytes` });
      return;
    }
    this.gap = setTimeout(() => this.flush(), this.door.idleGapMs);
  }

  private listen(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.door.idleTimeoutMs);
    socket.on('timeout', () => socket.destroy());
    // Resets and broken pipes end up in 'close'; nothing else to do here.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A client that half-closes after writing (`nc -N`) still gets its answers, then the close.
    socket.on('end', () => {
      if (!this.closing) this.flush();
      this.closing = true;
      this.enqueue(async () => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.on('close', () => {
      clearTimeout(this.gap);
      this.closing = true;
      // The session was only reachable through this connection: end it with the connection.
      this.enqueue(async () => {
        if (this.sessionId) await this.door.core.accounts.logout(this.sessionId).catch(() => {});
      });
    });
  }
}
