import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import { uniqueViolation } from '../db/errors.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { RoomInfo } from './model.js';
import { type RoomAccess, toRoomInfo } from './room-access.js';
import type { Memberships } from './room-members.js';
import * as rooms from './rooms.repository.js';

/** Direct-message rooms: one per pair of users, named `dm:<low id>:<high id>`. */

export interface DmDeps {
  database: Database;
  clock: Clock;
  access: RoomAccess;
  memberships: Memberships;
}

/** The direct-message room of two users, created on first use; both are members (the other one invited, see shareARoom). */
export async function openDm({ database, clock, access, memberships }: DmDeps, user: User, other: User): Promise<RoomInfo> {
  const { db } = database;
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
  if (!(await access.roleOf(row.id, user.id))) await memberships.addMember(row, user.id, 'member');
  // Presence (issue 20): the opener has taken part; the other, made a member without asking, has
  // not until they open it too or write in it. Their pending invitation says so, written before
  // the membership so that no presence check sees them as having taken part in between.
  await rooms.takeInvite(db, row.id, user.id);
  if (!(await rooms.memberRole(db, row.id, other.id))) {
    await rooms.insertInvite(db, row.id, other.id, user.id, clock.now());
    await memberships.addMember(row, other.id, 'member');
  }
  return toRoomInfo(row, { role: 'member' });
}
