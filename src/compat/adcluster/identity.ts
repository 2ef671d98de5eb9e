import type { FastifyRequest } from 'fastify';
import type { Principal, User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import type { Participant, RoomInfo } from '../../chat/model.js';
import { ROOM_NAME } from '../../chat/rooms.service.js';
import { isCrossSiteRequest } from '../../http/auth.js';
import { AppError } from '../../shared/errors.js';
import { GROUP_NAME_RULE } from './words.js';

/**
 * Who a seed 004 socket is: a logged-in user (bearer header, session cookie from our own pages,
 * or `?token=<bearer access token>`) whose username is the path's client id, or — only when
 * PLAZA_GUEST_CHAT is on — a guest whose id is no registered username and not connected already.
 * The group path segment is joined here, before the upgrade (users: created when missing;
 * guests: an existing public group).
 */
export interface Identity {
  participant: Participant;
  /** Null for guests. */
  user: User | null;
  sessionId: string | null;
  group?: RoomInfo;
}

export const GUEST_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const MAX_TOKEN_CHARS = 4096;

export const guestKey = (id: string) => `g:${id}`;

/** The hub key of a message's or presence event's sender. */
export const senderKey = (u: { id: number | null; name: string }) => (u.id !== null ? `u${u.id}` : guestKey(u.name));

/** The logged-in caller of an upgrade, if any; a presented but bad credential is refused. */
async function principalOf(core: Core, request: FastifyRequest): Promise<Principal | null> {
  const p = request.principal;
  if (p) {
    // A cookie rides along with any page's WebSocket: only our own pages may use it.
    if (p.via === 'cookie' && isCrossSiteRequest(core, request)) {
      throw new AppError('CSRF_REJECTED', 'Cross-site WebSocket refused');
    }
    return p;
  }
  if (request.authError) throw request.authError;
  const token = (request.query as { token?: unknown }).token;
  if (typeof token === 'string' && token !== '') {
    if (token.length > MAX_TOKEN_CHARS) throw new AppError('INVALID_TOKEN', 'Access token is not valid');
    return core.accounts.authenticateBearer(token);
  }
  return null;
}

async function guestIdentity(core: Core, clientId: string, groupName: string | undefined): Promise<Identity> {
  const { chat } = core;
  if (!core.config.chat.guests) {
    throw new AppError('UNAUTHENTICATED', 'Log in first: send a bearer token (header or ?token=) or a session cookie');
  }
  if (!GUEST_ID.test(clientId)) {
    throw new AppError('VALIDATION_FAILED', 'Guest client ids are 1-32 letters, digits, "_", "." or "-"');
  }
  if (await core.users.findByUsername(clientId)) {
    throw new AppError('FORBIDDEN', `'${clientId}' is a registered user: log in to use that name`);
  }
  const participant: Participant = { key: guestKey(clientId), userId: null, name: clientId };
  if (chat.connectionsOf(participant.key) > 0) {
    throw new AppError('USERNAME_TAKEN', `Client '${clientId}' is already connected`);
  }
  let group: RoomInfo | undefined;
  if (groupName !== undefined) {
    group = await chat.rooms.findByName(groupName);
    if (group?.kind !== 'room' || group.visibility !== 'public') {
      throw new AppError('NOT_FOUND', `No public group '${groupName}': guests join existing public groups only`);
    }
  }
  return { participant, user: null, sessionId: null, ...(group ? { group } : {}) };
}

/** `fixedClientId` is given for paths whose id segment is fixed (`/ws/clients`, `/ws/groups/{g}`). */
export async function identify(core: Core, request: FastifyRequest, fixedClientId?: string): Promise<Identity> {
  const { chat } = core;
  const params = request.params as { client_id?: string; group?: string };
  const clientId = fixedClientId ?? (params.client_id as string);
  const groupName = params.group;
  if (groupName !== undefined && !ROOM_NAME.test(groupName)) throw new AppError('VALIDATION_FAILED', GROUP_NAME_RULE);
  const principal = await principalOf(core, request);
  if (!principal) return guestIdentity(core, clientId, groupName);
  const user = principal.user;
  if (clientId !== user.username) {
    throw new AppError('FORBIDDEN', `You are logged in as '${user.username}': connect as /ws/${user.username}`);
  }
  const group = groupName === undefined ? undefined : await chat.rooms.joinOrCreateByName(user, groupName);
  return { participant: chat.participantOf(user), user, sessionId: principal.sessionId, ...(group ? { group } : {}) };
}
