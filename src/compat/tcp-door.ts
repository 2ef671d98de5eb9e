import type { Server, Socket } from 'node:net';

/** What the raw TCP front doors (seeds 001 and 003) share: listening, and closing after their work. */

/** Listens; resolves with the bound port (the asked one, or the one picked for port 0). */
export async function listenDoor(server: Server, host: string, port: number, onError: (err: Error) => void): Promise<number> {
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
