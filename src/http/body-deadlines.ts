import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../shared/errors.js';
import { rawErrorResponse } from './client-errors.js';
import type { Linger } from './linger.js';

export interface BodyLimits {
  bodyTimeoutSeconds: number;
  uploadMinBytesPerSecond: number;
  uploadRateWindowSeconds: number;
}

interface InFlight {
  req: IncomingMessage;
  res: ServerResponse;
  started: number;
  /** The handler streams this body (an upload): held to a rate, not a total time. */
  streaming: boolean;
  windowStart: number;
  windowBytesRead: number;
}

/**
 * Deadlines for request bodies still arriving. A body Fastify reads whole (JSON, forms, seed bodies
 * up to their small limits) must be complete within `bodyTimeoutSeconds`; a body left for the
 * handler to stream (multipart, raw and tus uploads) must average `uploadMinBytesPerSecond` over
 * each window instead, however long it is. A body that misses its deadline is answered 408
 * REQUEST_TIMEOUT (if no answer has started) and its connection closed.
 *
 * Nothing runs per chunk: bytes are counted from the socket's own `bytesRead`, and one sweep on
 * the caller's timer checks every body in flight. Windows in which Plaza itself stopped reading
 * (backpressure from the disk, or a handler that has not started reading yet) do not count.
 */
export function createBodyDeadlines(limits: BodyLimits, linger: Linger) {
  /** HTTP/1.1 reads one body at a time per connection, so the socket is the key. */
  const inFlight = new Map<Socket, InFlight>();
  const bodyTimeoutMs = limits.bodyTimeoutSeconds * 1000;
  const windowMs = limits.uploadRateWindowSeconds * 1000;
  const minWindowBytes = limits.uploadMinBytesPerSecond * limits.uploadRateWindowSeconds;

  /** onRequest: starts the clock for a request that announces a body. */
  function track(req: IncomingMessage, res: ServerResponse): void {
    const length = req.headers['content-length'];
    if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) return;
    const now = Date.now();
    const socket = req.socket;
    inFlight.set(socket, { req, res, started: now, streaming: false, windowStart: now, windowBytesRead: socket.bytesRead });
    // Answered before the body was read (a 413, an early 401): a keep-alive answer would leave the
    // rest unread, and a handler that stopped reading never resumes it. Node's own handler for
    // this event runs first, so a `Connection: close` answer has already reached closeUnread.
    res.once('finish', () => {
      // A pipelined request after this one may own the connection's body by now.
      if (inFlight.get(socket)?.req === req) closeUnread(socket);
    });
  }

  /**
   * The connection's body is still arriving although its answer is out: the rest is dropped and
   * the connection closed lingeringly. False when there is nothing left to read.
   */
  function closeUnread(socket: Socket): boolean {
    if (linger.isLingering(socket)) return true;
    const entry = inFlight.get(socket);
    if (!entry || entry.req.complete) return false;
    inFlight.delete(socket);
    dropRest(entry.req);
    linger.linger(socket);
    return true;
  }

  /** preValidation: Fastify has parsed what it parses; a body still arriving is the handler's to stream. */
  function handedToHandler(req: IncomingMessage): void {
    if (req.complete) return;
    const entry = inFlight.get(req.socket);
    if (entry?.req === req) entry.streaming = true;
  }

  function sweep(now: number): void {
    for (const [socket, entry] of inFlight) {
      if (entry.req.complete || socket.destroyed) {
        inFlight.delete(socket);
      } else if (linger.isLingering(socket)) {
        // Answered already; the linger deadline takes over.
      } else if (!entry.streaming) {
        if (now - entry.started >= bodyTimeoutMs) {
          cut(socket, entry, `The request body did not arrive within ${limits.bodyTimeoutSeconds} s`);
        }
      } else if (socket.isPaused()) {
        restartWindow(entry, socket, now);
      } else if (now - entry.windowStart >= windowMs) {
        if (minWindowBytes > 0 && socket.bytesRead - entry.windowBytesRead < minWindowBytes) {
          cut(socket, entry, `The upload arrived slower than ${limits.uploadMinBytesPerSecond} bytes/s`);
        } else {
          restartWindow(entry, socket, now);
        }
      }
    }
  }

  return { track, handedToHandler, closeUnread, sweep };

  function restartWindow(entry: InFlight, socket: Socket, now: number) {
    entry.windowStart = now;
    entry.windowBytesRead = socket.bytesRead;
  }

  /**
   * The answer is written straight to the socket, not through Fastify: the handler (or Fastify's
   * body parser) is still waiting for the body and may answer in a form that does not say why.
   * Its own answer, when it fails, finds the connection ended and is never sent.
   */
  function cut(socket: Socket, entry: InFlight, message: string) {
    inFlight.delete(socket);
    const err = new AppError('REQUEST_TIMEOUT', message);
    const answer = entry.res.headersSent || !socket.writable ? undefined : rawErrorResponse(err);
    abandon(entry.req, err);
    if (answer === undefined) socket.destroy();
    else linger.linger(socket, answer);
  }
}

/**
 * Fails a request's body without closing its connection, the way Node's pipeline destroys a
 * server request: the handler sees the error (and removes its temp file) instead of finishing
 * with what arrived if the client completes the body while the connection lingers, and Node's
 * parser drops the rest of the bytes.
 */
function abandon(req: IncomingMessage, err: Error) {
  (req as { socket: Socket | null }).socket = null;
  req.destroy(err);
  dropRest(req);
}

/**
 * Node's own way to drop an unread body (what it does for keep-alive requests nobody read): its
 * parser then discards the bytes, even for a request already destroyed, whose socket a failed
 * pipeline leaves open for the answer.
 */
function dropRest(req: IncomingMessage) {
  (req as { _dump?: () => void })._dump?.();
}
