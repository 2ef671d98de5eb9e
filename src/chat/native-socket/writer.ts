import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { AppError } from '../../shared/errors.js';
import { CLOSE } from '../close-codes.js';
import type { HubEvent } from '../model.js';
import { eventFrame } from '../protocol.js';

/**
 * How frames leave a native chat socket: hub events framed once for every recipient and corked
 * until the burst is over, replies sent as they come, and a client too far behind dropped rather
 * than buffered for.
 */

/** An unmasked, final text frame (RFC 6455 §5.2), built once per message whatever the fan-out. */
export function encodeTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Hub events reach many sockets: each is rendered and framed once (a message once, however it travels). */
const framed = new WeakMap<object, Buffer>();
function eventBytes(event: Exclude<HubEvent, { kind: 'relay' }>): Buffer {
  const key = event.kind === 'message' ? event.message : event;
  let bytes = framed.get(key);
  if (!bytes) {
    bytes = encodeTextFrame(eventFrame(event));
    framed.set(key, bytes);
  }
  return bytes;
}

/**
 * Corks a socket until the current burst of work is over, so a batch of frames becomes one write. The bytes
 * corked this turn are counted apart: they are not a slow reader's backlog (yet).
 */
const corked = new Map<Socket, number>();
let uncorkScheduled = false;
function writeCorked(raw: Socket, bytes: Buffer) {
  const before = corked.get(raw);
  if (before === undefined) {
    raw.cork();
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      // After the current run of microtasks: a batch's fan-out (one flush) completes within it.
      process.nextTick(() => {
        uncorkScheduled = false;
        for (const s of corked.keys()) s.uncork();
        corked.clear();
      });
    }
  }
  corked.set(raw, (before ?? 0) + bytes.length);
  raw.write(bytes);
}

/** Waits (briefly, repeatedly) until the socket's send buffer is below `highWater`. */
export async function drained(socket: WebSocket, highWater: number): Promise<void> {
  while (socket.readyState === socket.OPEN && socket.bufferedAmount > highWater) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (socket.readyState !== socket.OPEN) throw new AppError('BAD_REQUEST', 'Connection closed during replay');
}

export interface SocketOutput {
  /** A reply or an error frame, unless the client is too far behind. */
  send(data: string): void;
  /** A hub event: held until `hello` went out, then framed once and written corked. */
  deliver(event: HubEvent): void;
  /** `hello` went out: the events held for it follow. */
  greeted(): void;
  /** Closes a client too far behind (1008) and cuts it off if it does not even read the close. */
  dropSlowConsumer(): void;
}

export function createSocketOutput(socket: WebSocket, maxBufferedBytes: number): SocketOutput {
  let dropped = false;
  // Events raised before `hello` went out (the user's own "joined") wait for it.
  let early: HubEvent[] | undefined = [];
  const raw = (socket as unknown as { _socket?: Socket })._socket;

  /** Every frame goes out here: a client this far behind is dropped rather than buffered for. */
  function writable(): boolean {
    if (dropped || socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount - (raw ? (corked.get(raw) ?? 0) : 0) > maxBufferedBytes) {
      dropSlowConsumer();
      return false;
    }
    return true;
  }
  function dropSlowConsumer() {
    if (dropped) return;
    dropped = true;
    socket.close(CLOSE.POLICY_VIOLATION, 'Too far behind: reconnect and resume');
    // A client that does not even read the close frame is cut off.
    setTimeout(() => socket.terminate(), 5000).unref();
  }
  function deliver(event: HubEvent) {
    if (event.kind === 'relay') return;
    if (early) {
      early.push(event);
      return;
    }
    if (!writable()) return;
    // Events fan out to many sockets: framed once, written as bytes, and a batch of them leaves
    // in one write per socket (ws has no compression here, so its own writes go straight to the
    // same socket and order is kept).
    if (raw) writeCorked(raw, eventBytes(event));
    else socket.send(eventFrame(event));
  }
  return {
    send(data) {
      if (writable()) socket.send(data);
    },
    deliver,
    greeted() {
      const waiting = early ?? [];
      early = undefined;
      for (const e of waiting) deliver(e);
    },
    dropSlowConsumer,
  };
}
