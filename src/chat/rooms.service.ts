import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { uniqueViolation } from '../db/errors.js';
import { AppError } from '../shared/errors.js';
import type { Clock } from '../shared/clock.js';
import type { Hub } from './hub.js';
import type { ReadCursor } from './chat.schemas.js';
import type { Participant, RoomInfo, Visibility } from './model.js';
import { createRoomAccess, toRoomInfo } from './room-access.js';
import { openDm } from './room-dms.js';
import { groups, joinOrCreateByName, publicGroupMembers } from './room-groups.js';
import { createMemberships } from './room-members.js';
import * as rooms from './rooms.repository.js';

// Composed from room-access.ts (visibility, cached roles), room-members.ts (memberships,
// invitations), room-dms.ts (direct messages) and room-groups.ts (seed 004's groups).
export { toRoomInfo } from './room-access.js';

/** A member's cursor and unread count in a room: one subtraction, whatever the history's length. */
function readState(row: rooms.RoomRow, readSeq: number): { readSeq: number; unread: number } {
  return { readSeq, unread: Math.max(0, Number(row.last_seq) - readSeq) };
}

export const ROOM_NAME = /^[\p{L}\p{N}_.-]{1,64}$/u;
const LIST_LIMIT = 500;

export interface RoomsDeps {
  database: Database;
  hub: Hub;
  clock: Clock;
}

export type RoomsService = ReturnType<typeof createRoomsService>;

/** Rooms, direct-message rooms and memberships. Membership changes reach the members' connections through the hub. */
export function createRoomsService({ database, hub, clock }: RoomsDeps) {
  const { db } = database;
  const access = createRoomAccess({ database, clock });
  const memberships = createMemberships({ database, hub, clock, access });
  const { join } = memberships;

  async function create(user: User, name: string, visibility: Visibility): Promise<RoomInfo> {
    if (!ROOM_NAME.test(name)) {
      throw new AppError('VALIDATION_FAILED', 'Room names are 1-64 letters, digits, "_", "." or "-"');
    }
    let row: rooms.RoomRow;
    try {
      row = await rooms.insertRoom(db, {
        name,
        kind: 'room',
        visibility,
        created_by: user.id,
        created_at: clock.now(),
      });
    } catch (err) {
      if (uniqueViolation(err) !== undefined) throw new AppError('ROOM_EXISTS', `Room "${name}" already exists`);
      throw err;
    }
    return memberships.addMember(row, user.id, 'admin');
  }

  async function findByName(name: string): Promise<RoomInfo | undefined> {
    const row = await rooms.findRoomByName(db, name);
    return row ? toRoomInfo(row) : undefined;
  }

  async function list(user: User): Promise<RoomInfo[]> {
    const rows = await rooms.listRoomsFor(db, user.id, LIST_LIMIT);
    return rows.map(({ my_role, my_read_seq, member_count, ...r }) =>
      toRoomInfo(r, { memberCount: member_count, ...(my_role ? { role: my_role, ...readState(r, my_read_seq ?? 0) } : {}) }),
    );
  }

  /** The rooms a participant's new connection follows: a user's memberships; guests follow none until they join. */
  async function roomsOf(participant: Participant): Promise<RoomInfo[]> {
    if (participant.userId === null) return [];
    return (await rooms.roomsOfUser(db, participant.userId)).map(({ read_seq, ...r }) => toRoomInfo(r, readState(r, read_seq)));
  }

  /**
   * Moves the caller's read cursor in a room they belong to forward to `seq` (a lower one leaves
   * it where it is); a `seq` past the room's last message is refused.
   */
  async function markRead(user: User, roomId: number, seq: number): Promise<ReadCursor> {
    await access.requireMember(user, roomId);
    const row = await rooms.findRoomById(db, roomId);
    if (!row) throw new AppError('NOT_FOUND', 'No such room');
    const last = Number(row.last_seq);
    if (seq > last) throw new AppError('VALIDATION_FAILED', `"seq" is past the room's last message (${last})`);
    const readSeq = await rooms.advanceReadCursor(db, roomId, user.id, seq);
    if (readSeq === undefined) throw new AppError('NOT_MEMBER', `Join room "${row.name}" first`);
    return { room: roomId, readSeq, unread: Math.max(0, last - readSeq) };
  }

  /**
   * The rooms through which a participant may see who else is online: their rooms, less the DMs
   * whose other member has not taken part (opened it or written in it). Visible-online lists
   * should iterate these rather than `roomsOf`.
   */
  async function presenceRoomsOf(participant: Participant): Promise<RoomInfo[]> {
    if (participant.userId === null) return [];
    return (await rooms.presenceRoomsOfUser(db, participant.userId)).map((r) => toRoomInfo(r));
  }

  const dmDeps = { database, clock, access, memberships };
  const groupDeps = { database, join, create };

  return {
    create,
    findByName,
    getVisible: access.getVisible,
    requireMember: access.requireMember,
    roleOf: access.roleOf,
    join,
    joinOrCreateByName: (user: User, name: string) => joinOrCreateByName(groupDeps, user, name),
    leave: memberships.leave,
    invite: memberships.invite,
    removeMember: memberships.removeMember,
    members: memberships.members,
    list,
    markRead,
    openDm: (user: User, other: User) => openDm(dmDeps, user, other),
    roomsOf,
    presenceRoomsOf,
    groups: () => groups(database),
    publicGroupMembers: (roomId: number) => publicGroupMembers(database, roomId),
    findRow: (roomId: number) => rooms.findRoomById(db, roomId),
    /** Whether `a` may see `b`'s presence through a shared room (a DM once `b` took part in it). */
    shareARoom: (a: number, b: number) => rooms.shareARoom(db, a, b),
    fileSharedWith: (fileId: string, userId: number) => rooms.fileSharedWith(db, fileId, userId),
  };
}
