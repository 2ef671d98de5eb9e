import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import { isCrossSiteRequest, requireUser } from '../../http/auth.js';
import { AppError } from '../../shared/errors.js';
import { hashToken, randomToken } from '../../shared/ids.js';

/**
 * Who opens a native chat socket. Browsers cannot set headers on a WebSocket: they fetch a
 * short-lived, single-use ticket first (`POST /api/chat/ticket`); other clients send a bearer
 * token, or the session cookie from one of Plaza's own pages.
 */

const TICKET_TTL_MS = 30_000;

export interface TicketBook {
  issue(sessionId: string): Promise<{ ticket: string; expiresInSeconds: number }>;
  /** The principal behind a ticket, which is used up; throws INVALID_TOKEN for an unknown, used or expired one. */
  redeem(ticket: string): Promise<Principal>;
  /** Forgets expired tickets (on each heartbeat). */
  sweep(): void;
}

export function createTicketBook(core: Core): TicketBook {
  const shared = core.cluster?.tickets;
  // Stored by hash: the map (and Redis, with several instances) never holds a usable ticket. While
  // Redis is away a ticket is kept here: it then opens a socket on this instance only.
  const tickets = new Map<string, { sessionId: string; expires: number }>();
  const takeLocal = (key: string): string | undefined => {
    const t = tickets.get(key);
    tickets.delete(key);
    return t && t.expires >= Date.now() ? t.sessionId : undefined;
  };
  return {
    async issue(sessionId) {
      const ticket = randomToken();
      const key = hashToken(ticket);
      const kept = shared ? await shared.put(key, sessionId, TICKET_TTL_MS).then(() => true, () => false) : false;
      if (!kept) tickets.set(key, { sessionId, expires: Date.now() + TICKET_TTL_MS });
      return { ticket, expiresInSeconds: TICKET_TTL_MS / 1000 };
    },
    async redeem(ticket) {
      const key = hashToken(ticket);
      const sessionId = takeLocal(key) ?? (shared ? await shared.take(key).catch(() => undefined) : undefined);
      const p = sessionId ? await core.accounts.authenticateSession(sessionId) : null;
      if (!p) throw new AppError('INVALID_TOKEN', 'The chat ticket is unknown, used or expired');
      return p;
    },
    sweep() {
      const now = Date.now();
      for (const [k, t] of tickets) if (t.expires < now) tickets.delete(k);
    },
  };
}

/** The upgrade request's principal: a ticket if one is given, else the request's own login. */
export async function socketPrincipal(core: Core, tickets: TicketBook, request: FastifyRequest): Promise<Principal> {
  const ticket = (request.query as { ticket?: unknown }).ticket;
  if (typeof ticket === 'string' && ticket !== '') return tickets.redeem(ticket);
  const p = requireUser(request);
  // A cookie rides along with any page's WebSocket: only our own pages may use it.
  if (p.via === 'cookie' && isCrossSiteRequest(core, request)) {
    throw new AppError('CSRF_REJECTED', 'Cross-site WebSocket refused');
  }
  return p;
}
