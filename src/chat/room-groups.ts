import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { AppError } from '../shared/errors.js';
import type { RoomInfo } from './model.js';
import { notFound, toRoomInfo } from './room-access.js';
import * as rooms from './rooms.repository.js';

/** Seed 004's groups: every non-DM room, joined or created by name, listed to guests too. */

const LIST_LIMIT = 500;

/** Seed 004's `/join <g>`: joins the named group, creating it (public) when it does not exist. */
export async function joinOrCreateByName(
  deps: {
    database: Database;
    join(user: User, roomId: number): Promise<RoomInfo>;
    create(user: User, name: string, visibility: 'public'): Promise<RoomInfo>;
  },
  user: User,
  name: string,
): Promise<RoomInfo> {
  const existing = await rooms.findRoomByName(deps.database.db, name);
  if (existing) return deps.join(user, existing.id);
  try {
    return await deps.create(user, name, 'public');
  } catch (err) {
    // Someone created it a moment ago.
    if (err instanceof AppError && err.code === 'ROOM_EXISTS') return joinOrCreateByName(deps, user, name);
    throw err;
  }
}

/** The members of a public group, for callers without an account (seed 004 guests' `/group_members`). */
export async function publicGroupMembers(database: Database, roomId: number): Promise<Array<{ id: number; username: string }>> {
  const row = await rooms.findRoomById(database.db, roomId);
  if (!row || row.kind !== 'room' || row.visibility !== 'public') throw notFound();
  return (await rooms.listMembers(database.db, roomId, LIST_LIMIT)).map((m) => ({ id: m.user_id, username: m.username }));
}

export async function groups(database: Database) {
  return (await rooms.listGroupRooms(database.db, LIST_LIMIT)).map((r) => toRoomInfo(r, { memberCount: r.member_count }));
}
