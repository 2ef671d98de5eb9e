import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { RoomInfo } from './model.js';
import * as rooms from './rooms.repository.js';

/**
 * Who may see a room and who belongs to it, asked on every send: roles and room rows are
 * remembered for a second, and a role is forgotten on any local membership change.
 */

const MEMBERSHIP_TTL_MS = 1000;

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

export function notFound(): AppError {
  return new AppError('NOT_FOUND', 'No such room');
}

export type RoomAccess = ReturnType<typeof createRoomAccess>;

export function createRoomAccess({ database, clock }: { database: Database; clock: Clock }) {
  const { db } = database;
  // Sends check membership on every message: remembered for a second, dropped on any local change.
  const roleCache = new Map<string, { role: rooms.MemberRole | undefined; at: number }>();

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

  return { roleOf, forget, getVisible, requireMember };
}
