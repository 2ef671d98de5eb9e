import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientNetwork } from '../shared/client-network.js';
import { AppError } from '../shared/errors.js';
import { rawErrorResponse } from './client-errors.js';
import type { Linger } from './linger.js';

/** A refused connection waits this long for its request to begin before it is answered anyway. */
const REFUSAL_WAIT_MS = 2000;
/** Refusals being answered at once; past this a flood is closed without an answer. */
const MAX_REFUSING = 1000;
const REFUSAL_LOG_EVERY_MS = 10_000;
const RETRY_AFTER_SECONDS = 10;

export interface ConnectionCaps {
  max: number;
  /** Undefined behind a trusted proxy: every connection then comes from the proxy's address. */
  maxPerIp: number | undefined;
  /** How long an idle connection carrying a seed connection-login is kept open. */
  seedKeepAliveMs: number;
}

export interface Logger {
  warn(obj: object, msg: string): void;
}

/** The process's open-file limit (Linux), which the caps must stay under to keep answering. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The global cap actually applied: a fifth of the descriptors stay for files, the database and doors. */
export function effectiveMax(configured: number, log: Logger): number {
  const limit = openFileLimit();
  if (limit === undefined || configured <= Math.floor(limit * 0.8)) return configured;
  const max = Math.max(1, Math.floor(limit * 0.8));
  log.warn({ configured, openFileLimit: limit, applied: max }, 'PLAZA_MAX_CONNECTIONS lowered to fit the open-file limit');
  return max;
}

/**
 * What the gate knows of one accepted connection. It is idle (a keep-alive connection between
 * requests) once an answer is done with none left in flight, and stops being idle when the next
 * request begins — its first bytes (seen in `bytesRead`) or its headers. An upgraded (WebSocket)
 * connection is never idle.
 */
interface Tracked {
  key: string;
  inFlight: number;
  upgraded: boolean;
  /** `bytesRead` when it went idle; undefined while not idle. */
  idleAt: number | undefined;
  release(): void;
}

/** Idle connections, longest-idle first (a Map keeps insertion order); seed logins kept apart. */
class IdlePool {
  private readonly plain = new Map<Socket, Tracked>();
  private readonly seed = new Map<Socket, Tracked>();

  add(socket: Socket, t: Tracked, seed: boolean) {
    this.remove(socket);
    (seed ? this.seed : this.plain).set(socket, t);
  }

  remove(socket: Socket) {
    this.plain.delete(socket);
    this.seed.delete(socket);
  }

  /**
   * The longest-idle connection that is still idle, plain keep-alive connections before those
   * holding a seed login (whose user loses the login with it); removed from the pool.
   */
  take(): [Socket, Tracked] | undefined {
    for (const pool of [this.plain, this.seed]) {
      for (const [socket, t] of pool) {
        pool.delete(socket);
        if (!socket.destroyed && t.idleAt !== undefined && socket.bytesRead === t.idleAt) return [socket, t];
      }
    }
    return undefined;
  }
}

/**
 * Counts every connection the HTTP server accepts, per client address and in all, before Node's
 * HTTP machinery sees it. Node's http.Server does its work in one 'connection' listener; the gate
 * takes its place and hands it only the connections under the caps, so a refused one never
 * reaches a parser or a route. A connection that would pass a cap first closes the longest-idle
 * keep-alive connection of that scope (all, or its address); only when none is idle is it
 * refused: answered once, when its request begins, with 503 TOO_MANY_CONNECTIONS and
 * Retry-After, then closed lingeringly (not a bare RST).
 *
 * An idle connection is closed after Node's keep-alive timeout, or `seedKeepAliveMs` when
 * `hooks.isSeed` says it carries a seed connection-login.
 */
export function gateConnections(
  server: Server,
  caps: ConnectionCaps,
  hooks: { linger: Linger; log: Logger; accepted(socket: Socket): void; isSeed(socket: Socket): boolean },
): void {
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const perKey = new Map<string, { open: number; idle: IdlePool }>();
  const allIdle = new IdlePool();
  const tracked = new WeakMap<Socket, Tracked>();
  let open = 0;
  let refusing = 0;
  const noteRefusal = refusalLog(hooks.log);

  /** Closes the longest-idle connection of one scope to make room; false when none is idle. */
  function evict(pool: IdlePool): boolean {
    const victim = pool.take();
    if (!victim) return false;
    victim[1].release();
    victim[0].destroy();
    return true;
  }

  server.on('connection', (socket: Socket) => {
    const key = clientNetwork(socket.remoteAddress);
    if (open >= caps.max && !evict(allIdle)) return refuse(socket, 'global', key);
    const scope = perKey.get(key) ?? { open: 0, idle: new IdlePool() };
    if (caps.maxPerIp !== undefined && scope.open >= caps.maxPerIp && !evict(scope.idle)) return refuse(socket, 'perIp', key);
    open++;
    scope.open++;
    perKey.set(key, scope);
    let counted = true;
    const t: Tracked = {
      key,
      inFlight: 0,
      upgraded: false,
      idleAt: undefined,
      release() {
        if (!counted) return;
        counted = false;
        open--;
        scope.open--;
        scope.idle.remove(socket);
        allIdle.remove(socket);
        if (scope.open === 0) perKey.delete(key);
      },
    };
    tracked.set(socket, t);
    socket.once('close', () => t.release());
    hooks.accepted(socket);
    for (const listener of nodeListeners) listener.call(server, socket);
  });

  const busy = (socket: Socket, t: Tracked) => {
    t.idleAt = undefined;
    allIdle.remove(socket);
    perKey.get(t.key)?.idle.remove(socket);
  };
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const t = tracked.get(socket);
    if (!t) return;
    t.inFlight++;
    busy(socket, t);
    res.once('close', () => {
      t.inFlight--;
      if (t.inFlight > 0 || t.upgraded || socket.destroyed) return;
      const seed = hooks.isSeed(socket);
      // Node has just set its keep-alive timeout (on 'finish'); a seed login keeps the long one.
      if (seed) socket.setTimeout(caps.seedKeepAliveMs);
      t.idleAt = socket.bytesRead;
      allIdle.add(socket, t, seed);
      perKey.get(t.key)?.idle.add(socket, t, seed);
    });
  });
  server.prependListener('upgrade', (req: IncomingMessage) => {
    const t = tracked.get(req.socket);
    if (!t) return;
    t.upgraded = true;
    busy(req.socket, t);
  });

  function refuse(socket: Socket, cap: 'global' | 'perIp', key: string) {
    noteRefusal(cap, key);
    socket.on('error', () => {});
    if (refusing >= MAX_REFUSING) {
      socket.destroy();
      return;
    }
    refusing++;
    const message =
      cap === 'perIp' ? 'Too many connections from your address; retry shortly' : 'The server has too many connections; retry shortly';
    const answer = () => {
      clearTimeout(timer);
      socket.off('data', answer);
      hooks.linger.linger(socket, rawErrorResponse(new AppError('TOO_MANY_CONNECTIONS', message, { retryAfter: RETRY_AFTER_SECONDS })));
    };
    const timer = setTimeout(answer, REFUSAL_WAIT_MS);
    timer.unref();
    socket.once('data', answer);
    socket.once('close', () => {
      clearTimeout(timer);
      refusing--;
    });
  }
}

/** Refusals are logged at once, then summed up at most every REFUSAL_LOG_EVERY_MS while they go on. */
function refusalLog(log: Logger) {
  let counts = { global: 0, perIp: 0 };
  let lastAddress = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (counts.global + counts.perIp === 0) return;
    log.warn({ refused: counts, lastAddress }, 'connections refused: over the connection caps');
    counts = { global: 0, perIp: 0 };
  };
  return (cap: 'global' | 'perIp', key: string) => {
    counts[cap]++;
    lastAddress = key;
    if (timer) return;
    flush();
    timer = setTimeout(() => {
      timer = undefined;
      flush();
    }, REFUSAL_LOG_EVERY_MS);
    timer.unref();
  };
}
