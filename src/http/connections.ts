import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
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
}

export interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * The key connections are counted under: the IPv4 address (also when it arrives IPv4-mapped on a
 * dual-stack socket), or the /64 of an IPv6 address, since one subscriber is handed a whole /64.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
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
 * Counts every connection the HTTP server accepts, per client address and in all, before Node's
 * HTTP machinery sees it. Node's http.Server does its work in one 'connection' listener; the gate
 * takes its place and hands it only the connections under the caps, so a refused one never
 * reaches a parser or a route. A refused connection is answered once, when its request begins,
 * with 503 TOO_MANY_CONNECTIONS and Retry-After, then closed lingeringly (not a bare RST).
 */
export function gateConnections(
  server: Server,
  caps: ConnectionCaps,
  hooks: { linger: Linger; log: Logger; accepted(socket: Socket): void },
): void {
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const perKey = new Map<string, number>();
  let open = 0;
  let refusing = 0;
  const noteRefusal = refusalLog(hooks.log);

  server.on('connection', (socket: Socket) => {
    const key = clientKey(socket.remoteAddress);
    const fromKey = perKey.get(key) ?? 0;
    if (open >= caps.max) return refuse(socket, 'global', key);
    if (caps.maxPerIp !== undefined && fromKey >= caps.maxPerIp) return refuse(socket, 'perIp', key);
    open++;
    perKey.set(key, fromKey + 1);
    socket.once('close', () => {
      open--;
      const left = (perKey.get(key) ?? 1) - 1;
      if (left === 0) perKey.delete(key);
      else perKey.set(key, left);
    });
    hooks.accepted(socket);
    for (const listener of nodeListeners) listener.call(server, socket);
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
