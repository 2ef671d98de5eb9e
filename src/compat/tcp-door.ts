import type { Server, Socket } from 'node:net';
import { clientNetwork } from '../shared/client-network.js';

/**
 * What the raw TCP front doors (seeds 001 and 003) share: listening with a per-address cap, and
 * closing after their work.
 */

/** The per-address cap when the door does not pass one (PLAZA_TCP_MAX_CONNECTIONS_PER_IP's default). */
export const DEFAULT_TCP_MAX_PER_IP = 64;
/** A refused connection that was sent the door's refusal line is destroyed after this at the latest. */
const REFUSAL_LINGER_MS = 1000;

export interface DoorLimits {
  /** Open connections one client address (IPv4 address, IPv6 /64) may hold. */
  maxPerIp?: number;
  /** The door's short refusal, sent before the close; without one the connection is closed at once. */
  refusal?: () => Buffer;
}

/**
 * Puts a per-address count in front of the door's 'connection' listener (the one given to
 * net.createServer): a connection past the cap never reaches the door.
 */
function capPerAddress(server: Server, limits: DoorLimits): void {
  const max = limits.maxPerIp ?? DEFAULT_TCP_MAX_PER_IP;
  const doorListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const perKey = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const key = clientNetwork(socket.remoteAddress);
    const open = perKey.get(key) ?? 0;
    if (open >= max) {
      socket.on('error', () => {});
      if (!limits.refusal) return void socket.destroy();
      socket.end(limits.refusal());
      socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
      return;
    }
    perKey.set(key, open + 1);
    socket.once('close', () => {
      const left = (perKey.get(key) ?? 1) - 1;
      if (left === 0) perKey.delete(key);
      else perKey.set(key, left);
    });
    for (const listener of doorListeners) listener.call(server, socket);
  });
}

/**
 * Listens, counting connections per client address (`limits`); resolves with the bound port
 * (the asked one, or the one picked for port 0).
 */
export async function listenDoor(
  server: Server,
  host: string,
  port: number,
  onError: (err: Error) => void,
  limits: DoorLimits = {},
): Promise<number> {
  capPerAddress(server, limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}

/**
 * Stops listening, ends every open connection, then waits for the work still in flight (sends,
 * uploads, logouts), so the caller may close the database afterwards.
 */
export async function closeDoor(server: Server, sockets: Set<Socket>, work: Set<Promise<unknown>>): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  const closed = [...sockets].map((s) => new Promise((resolve) => s.once('close', resolve)));
  for (const s of sockets) s.destroy();
  await Promise.all([stopped, ...closed]);
  while (work.size > 0) await Promise.allSettled([...work]);
}

/** Resolves when a socket that refused a write can take more (or has closed). */
export function drainOrClose(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
