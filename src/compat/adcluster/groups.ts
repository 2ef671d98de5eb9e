import type { User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import { ROOM_NAME } from '../../chat/rooms.service.js';
import { AppError } from '../../shared/errors.js';

/** Seed 004's "groups" are Plaza rooms (kind `room`, by name): what its `/groups` and `/group_members` show. */

export interface GroupRow {
  name: string;
  /** Memberships plus guests present: public, like the member list. */
  members: number;
  /** Present with a live connection: only for the caller's own groups (presence is for those who share a room). */
  online?: number;
}

export function guestsIn(core: Core, roomId: number): string[] {
  return core.chat
    .presentIn(roomId)
    .filter((p) => p.userId === null)
    .map((p) => p.name);
}

/**
 * Seed 004's `/groups` rows: groups the caller may see (guests: public ones). `followed` are the
 * rooms the caller's connection follows (a guest's own groups; a user's own are their memberships).
 */
export async function visibleGroups(core: Core, user: User | null, followed: readonly number[] = []): Promise<GroupRow[]> {
  const rooms = user
    ? (await core.chat.rooms.list(user)).filter((r) => r.kind === 'room')
    : (await core.chat.rooms.groups()).filter((r) => r.visibility === 'public');
  return rooms.map((r) => {
    const mine = r.role !== undefined || followed.includes(r.id);
    return {
      name: r.name,
      members: (r.memberCount ?? 0) + guestsIn(core, r.id).length,
      ...(mine ? { online: core.chat.onlineIn(r.id).length } : {}),
    };
  });
}

/** A group's members (users), then guests present; NOT_FOUND for groups the caller may not see. */
export async function groupMembers(core: Core, user: User | null, name: string): Promise<string[]> {
  const { rooms } = core.chat;
  const room = ROOM_NAME.test(name) ? await rooms.findByName(name) : undefined;
  if (!room || room.kind !== 'room') throw new AppError('NOT_FOUND', `No group '${name}'`);
  let members: Array<{ username: string }>;
  try {
    members = user ? await rooms.members(user, room.id) : await rooms.publicGroupMembers(room.id);
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `No group '${name}'`);
    throw err;
  }
  return [...members.map((m) => m.username), ...guestsIn(core, room.id)];
}
