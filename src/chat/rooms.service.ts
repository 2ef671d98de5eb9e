import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { uniqueViolation } from '../db/errors.js';
import { AppError } from '../shared/errors.js';
import type { Clock } from '../shared/clock.js';
import type { Hub } from './hub.js';
import { type Participant, type RoomInfo, userKey, type Visibility } from './model.js';
import * as rooms from './rooms.repository.js';

export const ROOM_NAME = /^[\p{L}\p{N}_.-]{1,64}$/u;
const MEMBERSHIP_TTL_MS = 1000;
const LIST_LIMIT = 500;

export interface RoomsDeps {
  database: Database;
  hub: Hub;
  clock: Clock;
}

export function toRoomInfo(row: rooms.RoomRow, extra: Partial<RoomInfo> = {}): RoomInfo {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    visibility: row.visibility,
    lastSeq: Number(row.last_seq),
    createdAt: row.created_at,
    ...extra,
  };
}

export type RoomsService = ReturnType<typeof createRoomsService>;

/** Rooms, direct-message rooms and memberships. Membership changes reach the members' connections through the hub. */
export function createRoomsService({ database, hub, clock }: RoomsDeps) {
  const { db } = database;
  // Sends check membership on every message: remembered for a second, dropped on any local change.
  const roleCache = new Map<string, { role: rooms.MemberRole | undefined; at: number }>();

  function notFound(): AppError {
    return new AppError('NOT_FOUND', 'No such room');
  }

  async function roleOf(roomId: number, userId: number): Promise<rooms.MemberRole | undefined> {
    const key = `${roomId}:${userId}`;
    const now = clock.now();
    const hit = roleCache.get(key);
    if (hit && now - hit.at < MEMBERSHIP_TTL_MS) return hit.role;
    const role = await rooms.memberRole(db, roomId, userId);
    if (roleCache.size > 50_000) roleCache.clear();
    roleCache.set(key, { role, at: now });
    return role;
  }

  function forget(roomId: number, userId: number) {
    roleCache.delete(`${roomId}:${userId}`);
  }

  // Every send looks its room up: rows are remembered for a second (a room's name, kind and
  // visibility never change; `lastSeq` from here is only ever informative).
  const rowCache = new Map<number, { row: rooms.RoomRow; at: number }>();
  async function cachedRow(roomId: number): Promise<rooms.RoomRow | undefined> {
    const now = clock.now();
    const hit = rowCache.get(roomId);
    if (hit && now - hit.at < MEMBERSHIP_TTL_MS) return hit.row;
    const row = await rooms.findRoomById(db, roomId);
    if (rowCache.size > 10_000) rowCache.clear();
    if (row) rowCache.set(roomId, { row, at: now });
    return row;
  }

  /** A room the user may see: public rooms, and rooms (DMs included) they belong to. Private rooms are 404 to others. */
  async function getVisible(user: User, roomId: number): Promise<RoomInfo> {
    const row = await cachedRow(roomId);
    if (!row) throw notFound();
    const role = await roleOf(roomId, user.id);
    if (!role && !(row.kind === 'room' && row.visibility === 'public')) throw notFound();
    return toRoomInfo(row, role ? { role } : {});
  }

  /** The room, when `user` is a member; NOT_MEMBER (or 404 for rooms they may not see) otherwise. */
  async function requireMember(user: User, roomId: number): Promise<RoomInfo> {
    const room = await getVisible(user, roomId);
    if (!room.role) throw new AppError('NOT_MEMBER', `Join room "${room.name}" first`);
    return room;
  }

  async function addMember(row: rooms.RoomRow, userId: number, role: rooms.MemberRole): Promise<RoomInfo> {
    await rooms.insertMember(db, row.id, userId, role, clock.now());
    forget(row.id, userId);
    const info = toRoomInfo(row, { role });
    await hub.publishToUser(userKey(userId), { kind: 'membership', event: 'added', room: info });
    return info;
  }

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
    return addMember(row, user.id, 'admin');
  }

  async function findByName(name: string): Promise<RoomInfo | undefined> {
    const row = await rooms.findRoomByName(db, name);
    return row ? toRoomInfo(row) : undefined;
  }

  /** Joins a public room, or a private one the user was invited to. Joining twice is harmless. */
  async function join(user: User, roomId: number): Promise<RoomInfo> {
    const row = await rooms.findRoomById(db, roomId);
    if (!row || row.kind === 'dm') throw notFound();
    const role = await rooms.memberRole(db, roomId, user.id);
    if (role) return toRoomInfo(row, { role });
    if (row.visibility === 'private' && !(await rooms.takeInvite(db, roomId, user.id))) throw notFound();
    return addMember(row, user.id, 'member');
  }

  /** Seed 004's `/join <g>`: joins the named group, creating it (public) when it does not exist. */
  async function joinOrCreateByName(user: User, name: string): Promise<RoomInfo> {
    const existing = await rooms.findRoomByName(db, name);
    if (existing) return join(user, existing.id);
    try {
      return await create(user, name, 'public');
    } catch (err) {
      // Someone created it a moment ago.
      if (err instanceof AppError && err.code === 'ROOM_EXISTS') return joinOrCreateByName(user, name);
      throw err;
    }
  }

  async function removeMembership(row: rooms.RoomRow, userId: number): Promise<boolean> {
    const removed = await rooms.deleteMember(db, row.id, userId);
    forget(row.id, userId);
    if (removed) {
      await hub.publishToUser(userKey(userId), { kind: 'membership', event: 'removed', room: toRoomInfo(row) });
    }
    return removed;
  }

  async function leave(user: User, roomId: number): Promise<void> {
    const room = await requireMember(user, roomId);
    const row = await rooms.findRoomById(db, room.id);
    if (row) await removeMembership(row, user.id);
  }

  /** Room admins (and site admins) manage a room's members. */
  async function requireRoomAdmin(user: User, roomId: number): Promise<rooms.RoomRow> {
    // Site admins manage every room, private ones they never joined included.
    const row = user.role === 'admin' ? await rooms.findRoomById(db, roomId) : undefined;
    if (!row) {
      const room = await getVisible(user, roomId);
      if (room.role !== 'admin') throw new AppError('FORBIDDEN', 'Only room admins can do that');
    }
    const target = row ?? (await rooms.findRoomById(db, roomId));
    if (!target) throw notFound();
    if (target.kind === 'dm') throw new AppError('FORBIDDEN', 'Direct-message rooms have no admins');
    return target;
  }

  /** Invites an existing user (the caller resolved them) into a room; they join with `join`. */
  async function invite(user: User, roomId: number, target: User): Promise<void> {
    await requireRoomAdmin(user, roomId);
    if (await rooms.memberRole(db, roomId, target.id)) return;
    await rooms.insertInvite(db, roomId, target.id, user.id, clock.now());
  }

  async function removeMember(user: User, roomId: number, targetId: number): Promise<void> {
    const row = await requireRoomAdmin(user, roomId);
    if (!(await removeMembership(row, targetId))) throw new AppError('NOT_FOUND', 'Not a member of this room');
  }

  async function members(user: User, roomId: number) {
    const room = await getVisible(user, roomId);
    const list = await rooms.listMembers(db, room.id, LIST_LIMIT);
    return list.map((m) => ({
      id: m.user_id,
      username: m.username,
      role: m.role,
      joinedAt: m.joined_at,
      presence: hub.presenceOf(userKey(m.user_id)),
    }));
  }

  async function list(user: User): Promise<RoomInfo[]> {
    const rows = await rooms.listRoomsFor(db, user.id, LIST_LIMIT);
    return rows.map(({ my_role, member_count, ...r }) =>
      toRoomInfo(r, { memberCount: member_count, ...(my_role ? { role: my_role } : {}) }),
    );
  }

  /** The direct-message room of two users, created on first use; both are members. */
  async function openDm(user: User, other: User): Promise<RoomInfo> {
    if (other.id === user.id) throw new AppError('VALIDATION_FAILED', 'A direct message needs another user');
    const [a, b] = user.id < other.id ? [user.id, other.id] : [other.id, user.id];
    const name = `dm:${a}:${b}`;
    let row = await rooms.findRoomByName(db, name);
    if (!row) {
      try {
        row = await rooms.insertRoom(db, {
          name,
          kind: 'dm',
          visibility: 'private',
          created_by: user.id,
          created_at: clock.now(),
        });
      } catch (err) {
        if (uniqueViolation(err) === undefined) throw err;
        row = await rooms.findRoomByName(db, name);
        if (!row) throw err;
      }
    }
    if (!(await roleOf(row.id, user.id))) await addMember(row, user.id, 'member');
    if (!(await roleOf(row.id, other.id))) await addMember(row, other.id, 'member');
    return toRoomInfo(row, { role: 'member' });
  }

  /** The rooms a participant's new connection follows: a user's memberships; guests follow none until they join. */
  async function roomsOf(participant: Participant): Promise<RoomInfo[]> {
    if (participant.userId === null) return [];
    return (await rooms.roomsOfUser(db, participant.userId)).map((r) => toRoomInfo(r));
  }

  /** The members of a public group, for callers without an account (seed 004 guests' `/group_members`). */
  async function publicGroupMembers(roomId: number): Promise<Array<{ id: number; username: string }>> {
    const row = await rooms.findRoomById(db, roomId);
    if (!row || row.kind !== 'room' || row.visibility !== 'public') throw notFound();
    return (await rooms.listMembers(db, roomId, LIST_LIMIT)).map((m) => ({ id: m.user_id, username: m.username }));
  }

  async function groups() {
    return (await rooms.listGroupRooms(db, LIST_LIMIT)).map((r) => toRoomInfo(r, { memberCount: r.member_count }));
  }

  return {
    create,
    findByName,
    getVisible,
    requireMember,
    roleOf,
    join,
    joinOrCreateByName,
    leave,
    invite,
    removeMember,
    members,
    list,
    openDm,
    roomsOf,
    groups,
    publicGroupMembers,
    findRow: (roomId: number) => rooms.findRoomById(db, roomId),
    shareARoom: (a: number, b: number) => rooms.shareARoom(db, a, b),
    fileSharedWith: (fileId: string, userId: number) => rooms.fileSharedWith(db, fileId, userId),
  };
}
