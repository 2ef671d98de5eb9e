import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/helpers/server.js';
import { startNetclassDoor } from './netclass/door.js';
import { DEFAULT_TCP_MAX_PER_IP, listenDoor } from './tcp-door.js';
import { startTcpChatDoor } from './tcpchat/door.js';

/**
 * Issue 20: one address may hold only so many connections to a raw TCP door (seeds 001, 003), so
 * it cannot lock everyone else out; other addresses are unaffected.
 */

interface Client {
  socket: net.Socket;
  data: Buffer;
  closed: Promise<void>;
  isClosed: boolean;
}

async function connect(port: number, localAddress: string): Promise<Client> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  const c: Client = { socket, data: Buffer.alloc(0), closed: Promise.resolve(), isClosed: false };
  socket.on('data', (d: Buffer) => (c.data = Buffer.concat([c.data, d])));
  c.closed = new Promise((resolve) =>
    socket.once('close', () => {
      c.isClosed = true;
      resolve();
    }),
  );
  await once(socket, 'connect');
  return c;
}

/** `n` connections from one address, each proven accepted by the door's own answer to `probe`. */
async function fill(port: number, localAddress: string, n: number, probe: (c: Client) => Promise<void>) {
  const held: Client[] = [];
  for (let i = 0; i < n; i++) held.push(await connect(port, localAddress));
  await Promise.all(held.map(probe));
  return held;
}

describe('per-address cap on the raw TCP doors', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(() => server.close());

  it('seed 001: past the cap one address is shut out at once, another address is served', async () => {
    const door = await startNetclassDoor(server.core, { host: '127.0.0.1', port: 0 });
    const probe = async (c: Client) => {
      c.socket.write('HEAD HTTP/1.1\r\n');
      while (!c.data.toString('latin1').includes('HTTP/1.1 200 OK')) await once(c.socket, 'data');
    };
    try {
      const held = await fill(door.port, '127.0.0.21', DEFAULT_TCP_MAX_PER_IP, probe);
      const over = await connect(door.port, '127.0.0.21');
      const started = Date.now();
      await over.closed;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(held.every((c) => !c.isClosed)).toBe(true);
      const other = await connect(door.port, '127.0.0.22');
      await probe(other);
      // A slot given back is a slot usable again.
      held[0]!.socket.destroy();
      await held[0]!.closed;
      await new Promise((r) => setTimeout(r, 50));
      const again = await connect(door.port, '127.0.0.21');
      await probe(again);
      for (const c of [...held, other, again]) c.socket.destroy();
    } finally {
      await door.close();
    }
  });

  it('seed 003: past the cap one address is closed at once (the seed has no word for it), another is served', async () => {
    const door = await startTcpChatDoor(server.core, { host: '127.0.0.1', port: 0, room: 'lobby', autoRegister: false });
    try {
      const held: Client[] = [];
      for (let i = 0; i < DEFAULT_TCP_MAX_PER_IP; i++) held.push(await connect(door.port, '127.0.0.23'));
      const over = await connect(door.port, '127.0.0.23');
      const started = Date.now();
      await over.closed;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(over.data.length).toBe(0);
      // Accepted connections get the door's answer to a bad login: the wrong-password word, then the close.
      const other = await connect(door.port, '127.0.0.24');
      other.socket.write('nobody/x');
      await other.closed;
      expect(other.data.toString('utf8')).toContain('비틀림');
      expect(held.every((c) => !c.isClosed)).toBe(true);
      for (const c of held) c.socket.destroy();
    } finally {
      await door.close();
    }
  });
});

describe('listenDoor limits', () => {
  it('takes its cap and the door refusal line from the caller, counting IPv4 addresses apart', async () => {
    const served: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      served.push(socket);
      socket.write('hello\n');
    });
    const port = await listenDoor(server, '127.0.0.1', 0, () => {}, { maxPerIp: 2, refusal: () => Buffer.from('full\n') });
    try {
      const a = await connect(port, '127.0.0.31');
      const b = await connect(port, '127.0.0.31');
      const c = await connect(port, '127.0.0.32');
      const over = await connect(port, '127.0.0.31');
      await over.closed;
      expect(over.data.toString()).toBe('full\n');
      await new Promise((r) => setTimeout(r, 50));
      expect(served.length).toBe(3);
      for (const x of [a, b, c]) expect(x.isClosed).toBe(false);
      for (const x of [a, b, c]) x.socket.destroy();
    } finally {
      for (const s of served) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
