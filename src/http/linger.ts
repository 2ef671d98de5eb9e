import { Socket } from 'node:net';

/** How long, and how much, a closing connection keeps reading what its client still sends. */
export const LINGER_MS = 5000;
export const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Lingering close, as nginx does it. A client that writes its whole body before it reads (Python's
 * urllib, curl without Expect) gets a connection reset instead of the answer if the server closes
 * while bytes are still arriving: the kernel answers unread data with RST and the client's write
 * fails before it ever reads. So an answered connection is half-closed (FIN after the answer), and
 * whatever the client still sends is read and dropped until it closes its side, or for at most
 * LINGER_MS and LINGER_BYTES. Deadlines are checked by `sweep`, driven by the caller's timer.
 */
export function createLinger() {
  const lingering = new Map<Socket, { until: number; maxBytesRead: number }>();

  /** Ends `socket` after `lastBytes` (if any) and drops its input until the client is done. */
  function linger(socket: Socket, lastBytes?: string): void {
    if (socket.destroyed) return;
    if (lingering.has(socket)) {
      if (lastBytes !== undefined && socket.writable) socket.end(lastBytes);
      return;
    }
    lingering.set(socket, { until: Date.now() + LINGER_MS, maxBytesRead: socket.bytesRead + LINGER_BYTES });
    socket.once('close', () => lingering.delete(socket));
    // The client closed its side: it has sent all it will; close once the answer is out
    // (net.Socket's own destroySoon: HTTP connections have theirs replaced by the guards).
    socket.once('end', () => Socket.prototype.destroySoon.call(socket));
    if (socket.writable) {
      if (lastBytes === undefined) socket.end();
      else socket.end(lastBytes);
    }
    socket.resume();
  }

  function sweep(now: number): void {
    for (const [socket, l] of lingering) {
      if (now >= l.until || socket.bytesRead > l.maxBytesRead) socket.destroy();
    }
  }

  return {
    linger,
    isLingering: (socket: Socket) => lingering.has(socket),
    sweep,
    /** On shutdown nothing waits for slow clients. */
    destroyAll: () => {
      for (const socket of lingering.keys()) socket.destroy();
    },
  };
}

export type Linger = ReturnType<typeof createLinger>;
