import type { WebSocket } from 'ws';
import { AppError } from '../shared/errors.js';

/**
 * Every WebSocket close code Plaza sends, named once (Hocuspocus's CloseEvents.ts is the model).
 * 1000–1013 are RFC 6455's; 4000 + an HTTP status says the same as that status would.
 */
export const CLOSE = {
  /** A goodbye: the client asked, or the server is done with the socket. */
  NORMAL: 1000,
  /** The client broke the rules of the protocol or fell too far behind (a slow consumer). */
  POLICY_VIOLATION: 1008,
  /** The server could not set the connection up (its rooms or identity would not load). */
  INTERNAL_ERROR: 1011,
  /** The server is out of room for this kind of socket right now; retry later. */
  TRY_AGAIN_LATER: 1013,
  /** The login behind the socket ended (logout, disabled, expired): log in again. */
  SESSION_ENDED: 4001,
  /** Seed 004: a guest's name now belongs to a registered user. */
  NAME_TAKEN: 4003,
  /** The user already holds PLAZA_CHAT_MAX_SOCKETS_PER_USER chat sockets (4000 + HTTP's 429). */
  TOO_MANY_SOCKETS: 4029,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** Closes a socket refused by the per-user cap with 4029 and the cap's reason; false for any other error. */
export function closeIfOverCap(socket: WebSocket, err: unknown): boolean {
  if (!(err instanceof AppError && err.code === 'TOO_MANY_SOCKETS')) return false;
  socket.close(CLOSE.TOO_MANY_SOCKETS, err.message);
  return true;
}
