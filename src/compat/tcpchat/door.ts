import net from 'node:net';
import type { Core } from '../../app.js';
import { closeDoor, listenDoor } from '../tcp-door.js';
import { startAccountRecheck } from './account-recheck.js';
import type { DoorContext, DoorLog, DoorSettings } from './context.js';
import { TcpChatSession } from './session.js';

/**
 * Seed 003's raw TCP chat front door (tkinter chat; opt-in port). A thin adapter: logins are Plaza
 * accounts, every TCP user is a member of one bridged room of the native chat, and what they say
 * and share goes through the chat and files services, so web users and TCP users share history
 * and presence.
 *
 * The seed's client has no framing at all. It sends `<id>/<password>`, then `[MESG]` + text (ending
 * in a newline; tkinter adds it), `[FILE]` + `<size>,<basename>` + (after a 0.5 s sleep) the bytes,
 * and `[!EXIT]`. It reads a reply with one `recv(1024)`, then loops on `recv(10)` for a header,
 * `recv(1024)` for a text, `recv(65536)` for a file's info line and then ⌈size/65536⌉ times for its
 * bytes. So here:
 *
 * - Input (reader.ts): headers are recognised by their exact bytes wherever a read boundary falls;
 *   a text, the login and a file's info line end at a newline or a short quiet gap.
 * - Output (paced-writer.ts): one write queue per connection. Every header and every payload is its
 *   own write, followed by a pause (`pauseMs`, 50 ms) so that no two land in one of the client's
 *   reads. Texts over 1024 bytes are split on UTF-8 character boundaries into several `[MESG]`
 *   frames (their payloads concatenate to the full line). File bytes go out in writes of at most
 *   65,536 bytes, each drained and followed by the same pause.
 *
 * The seed client's file loop assumes every recv(65536) returns a full 65,536 bytes. No server can
 * promise that (TCP delivers what it has when the client is waiting); on loopback a first chunk
 * arrives whole, later ones often in halves, so files over 64 KiB may still desynchronise that
 * client, exactly as with the seed's own server, which relayed whatever each recv returned.
 */

export interface TcpChatDoorOptions {
  host: string;
  port: number;
  /** The bridged room (created on the first login when missing). */
  room: string;
  /** Unknown ids that log in become new accounts (the registration mode still applies). */
  autoRegister: boolean;
  /** Server faults, and a client dropped for not reading. */
  log?: (obj: object, msg: string) => void;
  /** The server's conditions (database down, disk full): warnings, not faults. Defaults to `log`. */
  warn?: (obj: object, msg: string) => void;
  /** Pause after every header and payload write. */
  pauseMs?: number;
  /** Quiet time that ends a login, a text ending in a newline, or a file's info line. */
  gapMs?: number;
  /** Quiet time that ends a text (or login) that stops without a newline or inside a character. */
  partialGapMs?: number;
  /** A connection that has not logged in after this long is closed. */
  loginTimeoutMs?: number;
  /** A file whose bytes stop arriving for this long is abandoned (nothing is kept). */
  fileIdleMs?: number;
  /** After an unreadable `[FILE]` info line, input is skipped until it has been quiet this long. */
  skipQuietMs?: number;
  maxConnections?: number;
  /** Frames waiting for a client that does not read; past this the connection is dropped. */
  maxQueuedFrames?: number;
}

export interface TcpChatDoor {
  port: number;
  /** Open connections (metrics). */
  connections(): number;
  close(): Promise<void>;
}

function settingsOf(core: Core, options: TcpChatDoorOptions): DoorSettings {
  return {
    room: options.room,
    autoRegister: options.autoRegister,
    pauseMs: options.pauseMs ?? 50,
    gapMs: options.gapMs ?? 40,
    partialGapMs: options.partialGapMs ?? 500,
    loginTimeoutMs: options.loginTimeoutMs ?? 10_000,
    fileIdleMs: options.fileIdleMs ?? 30_000,
    skipQuietMs: options.skipQuietMs ?? 1000,
    maxQueuedFrames: options.maxQueuedFrames ?? 2000,
    framesPer10s: core.config.chat.framesPer10s,
  };
}

export async function startTcpChatDoor(core: Core, options: TcpChatDoorOptions): Promise<TcpChatDoor> {
  const error = options.log ?? (() => {});
  const log: DoorLog = { error, warn: options.warn ?? error };
  const maxConnections = options.maxConnections ?? 500;
  const sockets = new Set<net.Socket>();
  const accounts = new Map<net.Socket, number>();
  const recheck = startAccountRecheck(core, accounts);
  const work = new Set<Promise<unknown>>();
  const door: DoorContext = {
    core,
    settings: settingsOf(core, options),
    log,
    accounts,
    loggingIn: new Set<number>(),
    track: (p) => {
      work.add(p);
      void p.then(
        () => work.delete(p),
        () => work.delete(p),
      );
      return p;
    },
  };

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    if (sockets.size >= maxConnections) {
      // The seed has no word for "full": the connection is simply closed.
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new TcpChatSession(door, socket);
  });

  const port = await listenDoor(server, options.host, options.port, (err) => log.error({ err }, 'seed 003 TCP door error'), {
    maxPerIp: core.config.connections.tcpMaxPerIp,
  });

  return {
    port,
    connections: () => sockets.size,
    async close() {
      clearInterval(recheck);
      // Sends and uploads in flight settle before the caller closes the database.
      await closeDoor(server, sockets, work);
    },
  };
}
