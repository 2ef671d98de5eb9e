import net from 'node:net';
import type { Core } from '../../app.js';
import { createNetclassSemantics } from './semantics.js';
import { closeDoor, listenDoor } from '../tcp-door.js';
import { NetclassConnection } from './connection.js';
import { type DoorLog, LINGER_MS, type NetclassContext } from './context.js';
import { renderReply } from './reply.js';

/**
 * Seed 001's raw TCP front door (opt-in, own port). Its client does not speak valid HTTP (see
 * requests.ts), so no HTTP parser can frame it: here a request is whatever arrives before a short
 * quiet gap (connection.ts). Login state belongs to the connection. Semantics are shared with `/`
 * over HTTP (netclass-http.ts): semantics.ts.
 */

export interface NetclassDoorOptions {
  host: string;
  port: number;
  /** Server faults. */
  log?: (obj: object, msg: string) => void;
  /** The server's conditions (database down, busy): warnings, not faults. Defaults to `log`. */
  warn?: (obj: object, msg: string) => void;
  /** Quiet time that ends a request; reads closer together than this are joined. */
  idleGapMs?: number;
  /** Largest buffered request; beyond it the client gets 413 and the connection is closed. */
  maxRequestBytes?: number;
  /** Connections with no traffic for this long are closed. */
  idleTimeoutMs?: number;
  maxConnections?: number;
}

export interface NetclassDoor {
  port: number;
  /** Open connections (metrics). */
  connections(): number;
  close(): Promise<void>;
}

export async function startNetclassDoor(core: Core, options: NetclassDoorOptions): Promise<NetclassDoor> {
  const error = options.log ?? (() => {});
  const log: DoorLog = { error, warn: options.warn ?? error };
  const maxConnections = options.maxConnections ?? 1000;
  const sockets = new Set<net.Socket>();
  /** Each connection's queue of work, so close() can wait for it before the database goes away. */
  const work = new Set<Promise<void>>();
  const door: NetclassContext = {
    core,
    seed: createNetclassSemantics(core),
    log,
    idleGapMs: options.idleGapMs ?? 40,
    maxRequestBytes: options.maxRequestBytes ?? 64 * 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 5 * 60_000,
    track: (p) => {
      work.add(p);
      void p.finally(() => work.delete(p));
    },
  };

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (sockets.size > maxConnections) {
      socket.on('error', () => {});
      socket.setTimeout(LINGER_MS, () => socket.destroy());
      socket.end(renderReply({ status: 503, body: 'Service Unavailable: too many connections', close: true }));
      return;
    }
    new NetclassConnection(door, socket);
  });

  const port = await listenDoor(server, options.host, options.port, (err) => log.error({ err }, 'seed 001 TCP door error'), {
    maxPerIp: core.config.connections.tcpMaxPerIp,
    refusal: () => renderReply({ status: 503, body: 'Service Unavailable: too many connections from your address', close: true }),
  });

  return {
    port,
    connections: () => sockets.size,
    // In-flight requests and session logouts finish before the caller closes the database.
    close: () => closeDoor(server, sockets, work),
  };
}
