import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Linger } from './linger.js';

/**
 * Request bodies still arriving, per connection: an answer sent before its body was read (a 413,
 * an early 401, an upload error) closes the connection lingeringly instead of leaving the rest
 * unread or resetting it.
 */
export function createBodyDeadlines(linger: Linger) {
  /** HTTP/1.1 reads one body at a time per connection, so the socket is the key. */
  const inFlight = new Map<Socket, IncomingMessage>();

  /** onRequest: remembers a request that announces a body. */
  function track(req: IncomingMessage, res: ServerResponse): void {
    const length = req.headers['content-length'];
    if ((length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined) return;
    const socket = req.socket;
    inFlight.set(socket, req);
    // Answered before the body was read (a 413, an early 401): a keep-alive answer would leave the
    // rest unread, and a handler that stopped reading never resumes it. Node's own handler for
    // this event runs first, so a `Connection: close` answer has already reached closeUnread.
    res.once('finish', () => {
      // A pipelined request after this one may own the connection's body by now.
      if (inFlight.get(socket) === req) closeUnread(socket);
    });
  }

  /**
   * The connection's body is still arriving although its answer is out: the rest is dropped and
   * the connection closed lingeringly. False when there is nothing left to read.
   */
  function closeUnread(socket: Socket): boolean {
    if (linger.isLingering(socket)) return true;
    const req = inFlight.get(socket);
    if (!req || req.complete) return false;
    inFlight.delete(socket);
    // Node's own way to drop an unread body: its parser then discards the bytes, even for a
    // request that a failed pipeline has destroyed (Node leaves the socket open for the answer).
    (req as { _dump?: () => void })._dump?.();
    linger.linger(socket);
    return true;
  }

  function sweep(): void {
    for (const [socket, req] of inFlight) if (req.complete || socket.destroyed) inFlight.delete(socket);
  }

  return { track, closeUnread, sweep };
}

export type BodyDeadlines = ReturnType<typeof createBodyDeadlines>;
