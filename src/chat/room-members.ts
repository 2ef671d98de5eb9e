import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { Hub } from './hub.js';
import { type RoomInfo, userKey } from './model.js';
import { notFound, type RoomAccess, toRoomInfo } from './room-access.js';
import * as rooms from './rooms.repository.js';

/** Memberships and invitations: joining, leaving, room admins' invites and removals, member lists. */

const LIST_LIMIT = 500;

export interface MembershipDeps {
  database: Database;
  hub: Hub;
  clock: Clock;
  access: RoomAccess;
}

export type Memberships = ReturnType<typeof createMemberships>;

export function createMemberships({ database, hub, clock, access }: MembershipDeps) {
  const { db } = database;
  const { forget, getVisible, requireMember } = access;

  async function addMember(row: rooms.RoomRow, userId: number, role: rooms.MemberRole): Promise<RoomInfo> {
    await rooms.insertMember(db, row.id, userId, role, clock.now());
    forget(row.id, userId);
    const info = toRoomInfo(row, { role });
    await hub.publishToUser(userKey(userId), { kind: 'membership', event: 'added', room: info });
    return info;
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

  /**
   * A room's members; their presence only for the room's members and site admins (issue 20), and
   * in a DM not that of a member who has not taken part (see rooms.repository's shareARoom).
   */
  async function members(user: User, roomId: number) {
    const room = await getVisible(user, roomId);
    const list = await rooms.listMembers(db, room.id, LIST_LIMIT);
    const admin = user.role === 'admin';
    const silent = !admin && room.role && room.kind === 'dm' ? new Set(await rooms.silentDmMembers(db, room.id)) : undefined;
    const shown = (id: number) => admin || (room.role !== undefined && (id === user.id || !silent?.has(id)));
    return list.map((m) => ({
      id: m.user_id,
      username: m.username,
      role: m.role,
      joinedAt: m.joined_at,
      ...(shown(m.user_id) ? { presence: hub.presenceOf(userKey(m.user_id)) } : {}),
    }));
  }

  return { addMember, join, leave, invite, removeMember, members };
}
