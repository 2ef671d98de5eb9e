import type { User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import { MAX_BODY_CHARS } from '../../chat/messages.service.js';
import type { Participant } from '../../chat/model.js';
import { AppError } from '../../shared/errors.js';
import { GUEST_ID, guestKey } from './identity.js';

/** Who sends: their participant, their account (null for a guest) and the rooms their connection follows. */
export interface Sender {
  participant: Participant;
  user: User | null;
  followed: readonly number[];
}

/**
 * Whether the sender may learn that `target` is online (and so reach them): themself, a site admin,
 * or someone sharing a room with them — a membership, or a room where one of them is present (guests
 * hold no memberships). Presence is shown only to those who share a room (as on the native API).
 */
async function mayReach(core: Core, from: Sender, target: Participant): Promise<boolean> {
  const { chat } = core;
  if (from.participant.key === target.key || from.user?.role === 'admin') return true;
  if (from.user && target.userId !== null) return chat.rooms.shareARoom(from.user.id, target.userId);
  const rooms = from.user ? (await chat.rooms.roomsOf(from.participant)).map((r) => r.id) : from.followed;
  for (const roomId of rooms) {
    if (chat.presentIn(roomId).some((p) => p.key === target.key)) return true;
    if (target.userId !== null && (await chat.rooms.roleOf(roomId, target.userId))) return true;
  }
  return false;
}

/**
 * Pushes a private message to a client's connections: a registered user (by username) or a guest
 * (by id). Resolves with the number of connections reached, or undefined when there is no such
 * client — also when the sender may not know whether they are online.
 */
export async function sendToClient(core: Core, from: Sender, clientId: string, text: string): Promise<number | undefined> {
  if (text.trim() === '' || text.length > MAX_BODY_CHARS) {
    throw new AppError('VALIDATION_FAILED', `The message must be 1-${MAX_BODY_CHARS} characters`);
  }
  const { chat } = core;
  const user = await core.users.findByUsername(clientId);
  if (user && !user.disabled) {
    if (!(await mayReach(core, from, chat.participantOf(user)))) return undefined;
    return (await chat.sendToUser(from.participant, user, text)).delivered;
  }
  if (user || !GUEST_ID.test(clientId)) return undefined;
  const guest: Participant = { key: guestKey(clientId), userId: null, name: clientId };
  if (chat.presenceOf(guest.key) === 'offline' || !(await mayReach(core, from, guest))) return undefined;
  return chat.pushDirect(guest.key, from.participant, text);
}
