import type { RedisLink } from './redis-link.js';

/**
 * Chat tickets where every instance sees them: a ticket issued on A opens a socket on B, once.
 * Stored by hash (never a usable ticket), expiring in Redis itself; `take` is one GETDEL, so two
 * instances redeeming the same ticket at once cannot both succeed.
 */
export interface SharedTickets {
  put(hash: string, sessionId: string, ttlMs: number): Promise<void>;
  /** The session behind the ticket, which is gone afterwards; undefined when unknown, used or expired. */
  take(hash: string): Promise<string | undefined>;
}

export function createSharedTickets(link: RedisLink): SharedTickets {
  const key = (hash: string) => `${link.prefix}ticket:${hash}`;
  return {
    async put(hash, sessionId, ttlMs) {
      await link.cmd.set(key(hash), sessionId, 'PX', ttlMs);
    },
    async take(hash) {
      return (await link.cmd.getdel(key(hash))) ?? undefined;
    },
  };
}
