import { Redis } from 'ioredis';

export type RedisState = 'up' | 'down';

export interface RedisLink {
  /** Commands: fail at once while Redis is away (no offline queue), so nothing waits on it. */
  readonly cmd: Redis;
  /** Subscriptions only: re-subscribes by itself when Redis returns. */
  readonly sub: Redis;
  /** Every key and channel of this cluster starts with it (`plaza:<cluster id>:`). */
  readonly prefix: string;
  state(): RedisState;
  /** Called on each change of state (not for every failed reconnect). */
  onChange(fn: (state: RedisState) => void): void;
  close(): Promise<void>;
}

export interface RedisLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Reconnect after 50 ms, doubling to 2 s, with jitter so instances do not reconnect in step. */
function retryDelay(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * The two connections an instance keeps to Redis. Being away is a state, not an error: it is
 * logged once when it starts and once when it ends, and the instance keeps serving what needs no
 * Redis meanwhile (health reports `degraded`).
 */
export async function connectRedis(url: string, clusterId: string, log: RedisLogger): Promise<RedisLink> {
  const options = { lazyConnect: true, retryStrategy: retryDelay, connectTimeout: 2000, connectionName: 'plaza' } as const;
  const cmd = new Redis(url, { ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const sub = new Redis(url, { ...options, maxRetriesPerRequest: null });
  let state: RedisState = 'down';
  const listeners: Array<(s: RedisState) => void> = [];
  const set = (next: RedisState, err?: Error) => {
    if (next === state) return;
    state = next;
    if (next === 'down') log.warn({ err: err?.message }, 'Redis is unreachable: chat between instances is paused, local chat goes on');
    else log.info({}, 'Redis is reachable again');
    for (const fn of listeners) fn(next);
  };
  const bothReady = () => cmd.status === 'ready' && sub.status === 'ready';
  for (const client of [cmd, sub]) {
    client.on('ready', () => bothReady() && set('up'));
    client.on('error', (err: Error) => set('down', err));
    client.on('close', () => set('down'));
  }
  // The first connection must work: a typo'd URL is a start-up error, not a degraded server.
  try {
    await Promise.all([cmd.connect(), sub.connect()]);
  } catch (err) {
    cmd.disconnect();
    sub.disconnect();
    throw new Error(`Cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  state = 'up';
  return {
    cmd,
    sub,
    prefix: `plaza:${clusterId}:`,
    state: () => state,
    onChange: (fn) => void listeners.push(fn),
    async close() {
      listeners.length = 0;
      await Promise.allSettled([cmd.quit(), sub.quit()]);
      cmd.disconnect();
      sub.disconnect();
    },
  };
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
