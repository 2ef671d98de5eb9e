import type { Kysely, Selectable } from 'kysely';
import type { ChatMembersTable, ChatRoomsTable, Tables } from '../db/tables.js';

export type RoomRow = Selectable<ChatRoomsTable>;
export type MemberRole = ChatMembersTable['role'];
type Db = Kysely<Tables>;

export interface RoomWithCount extends RoomRow {
  member_count: number;
}

export interface MemberRow {
  user_id: number;
  username: string;
  role: MemberRole;
  joined_at: number;
}

export async function insertRoom(db: Db, row: Omit<RoomRow, 'id' | 'last_seq'>): Promise<RoomRow> {
  return db.insertInto('chat_rooms').values({ ...row, last_seq: 0 }).returningAll().executeTakeFirstOrThrow();
}

export function findRoomById(db: Db, id: number): Promise<RoomRow | undefined> {
  return db.selectFrom('chat_rooms').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findRoomByName(db: Db, name: string): Promise<RoomRow | undefined> {
  return db.selectFrom('chat_rooms').selectAll().where('name', '=', name).executeTakeFirst();
}

function withCount(db: Db) {
  return db
    .selectFrom('chat_rooms as r')
    .selectAll('r')
    .select((eb) =>
      eb
        .selectFrom('chat_members as c')
        .select((e) => e.fn.countAll<number>().as('n'))
        .whereRef('c.room_id', '=', 'r.id')
        .as('member_count'),
    );
}

/** Public rooms plus the rooms `userId` belongs to (DMs included), by name, with the user's role. */
export async function listRoomsFor(
  db: Db,
  userId: number,
  limit: number,
): Promise<Array<RoomWithCount & { my_role: MemberRole | null; my_read_seq: number | null }>> {
  const rows = await withCount(db)
    .leftJoin('chat_members as mine', (j) => j.onRef('mine.room_id', '=', 'r.id').on('mine.user_id', '=', userId))
    .select(['mine.role as my_role', 'mine.last_read_seq as my_read_seq'])
    .where((eb) =>
      eb.or([eb.and([eb('r.kind', '=', 'room'), eb('r.visibility', '=', 'public')]), eb('mine.user_id', 'is not', null)]),
    )
    .orderBy('r.name')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ...r,
    member_count: Number(r.member_count ?? 0),
    my_read_seq: r.my_read_seq === null ? null : Number(r.my_read_seq),
  }));
}

/** Every non-DM room (seed 004's `/groups`), by name. */
export async function listGroupRooms(db: Db, limit: number): Promise<RoomWithCount[]> {
  const rows = await withCount(db).where('r.kind', '=', 'room').orderBy('r.name').limit(limit).execute();
  return rows.map((r) => ({ ...r, member_count: Number(r.member_count ?? 0) }));
}

/** The rooms (DMs included) `userId` belongs to, with their read cursor in each. */
export async function roomsOfUser(db: Db, userId: number): Promise<Array<RoomRow & { read_seq: number }>> {
  const rows = await db
    .selectFrom('chat_rooms as r')
    .innerJoin('chat_members as c', 'c.room_id', 'r.id')
    .selectAll('r')
    .select('c.last_read_seq as read_seq')
    .where('c.user_id', '=', userId)
    .execute();
  return rows.map((r) => ({ ...r, read_seq: Number(r.read_seq) }));
}

/** Moves a member's read cursor forward to `seq`; never back, and nothing for a non-member. */
export async function raiseReadCursor(db: Db, roomId: number, userId: number, seq: number): Promise<void> {
  await db
    .updateTable('chat_members')
    .set({ last_read_seq: seq })
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .where('last_read_seq', '<', seq)
    .execute();
}

/**
 * Moves a member's read cursor forward to `seq` (never back); answers the cursor now, or
 * undefined when `userId` is not a member.
 */
export async function advanceReadCursor(db: Db, roomId: number, userId: number, seq: number): Promise<number | undefined> {
  await raiseReadCursor(db, roomId, userId, seq);
  const r = await db
    .selectFrom('chat_members')
    .select('last_read_seq')
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r === undefined ? undefined : Number(r.last_read_seq);
}

export async function memberRole(db: Db, roomId: number, userId: number): Promise<MemberRole | undefined> {
  const r = await db
    .selectFrom('chat_members')
    .select('role')
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return r?.role;
}

/** Adds a membership, with what the room already holds counted as read; an existing one is kept as it is. */
export async function insertMember(db: Db, roomId: number, userId: number, role: MemberRole, now: number) {
  await db
    .insertInto('chat_members')
    .values((eb) => ({
      room_id: roomId,
      user_id: userId,
      role,
      joined_at: now,
      last_read_seq: eb.selectFrom('chat_rooms').select('last_seq').where('id', '=', roomId),
    }))
    .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing())
    .execute();
}

export async function deleteMember(db: Db, roomId: number, userId: number): Promise<boolean> {
  const r = await db
    .deleteFrom('chat_members')
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export function listMembers(db: Db, roomId: number, limit: number): Promise<MemberRow[]> {
  return db
    .selectFrom('chat_members as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .select(['c.user_id', 'u.username', 'c.role', 'c.joined_at'])
    .where('c.room_id', '=', roomId)
    .orderBy('u.username')
    .limit(limit)
    .execute();
}

/**
 * Whether `viewer` may see `target`'s presence through a room they share. A direct-message room
 * counts only once `target` has taken part in it: opened it themselves (no pending invitation
 * left by `openDm`) or written in it, so opening a DM with anyone reveals nothing about them.
 */
export async function shareARoom(db: Db, viewer: number, target: number): Promise<boolean> {
  const r = await db
    .selectFrom('chat_members as x')
    .innerJoin('chat_members as y', 'y.room_id', 'x.room_id')
    .innerJoin('chat_rooms as r', 'r.id', 'x.room_id')
    .select('x.room_id')
    .where('x.user_id', '=', viewer)
    .where('y.user_id', '=', target)
    .where((eb) =>
      eb.or([
        eb('r.kind', '=', 'room'),
        eb.not(
          eb.exists(
            eb
              .selectFrom('chat_invites as i')
              .select('i.user_id')
              .whereRef('i.room_id', '=', 'r.id')
              .where('i.user_id', '=', target),
          ),
        ),
        eb.exists(
          eb.selectFrom('chat_messages as m').select('m.id').whereRef('m.room_id', '=', 'r.id').where('m.sender_id', '=', target),
        ),
      ]),
    )
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}

/**
 * The rooms through which `userId` sees others' presence: their rooms, and their direct-message
 * rooms in which the other member has taken part (see shareARoom).
 */
export function presenceRoomsOfUser(db: Db, userId: number): Promise<RoomRow[]> {
  return db
    .selectFrom('chat_rooms as r')
    .innerJoin('chat_members as c', 'c.room_id', 'r.id')
    .selectAll('r')
    .where('c.user_id', '=', userId)
    .where((eb) =>
      eb.or([
        eb('r.kind', '=', 'room'),
        eb.not(
          eb.exists(
            eb
              .selectFrom('chat_invites as i')
              .select('i.user_id')
              .whereRef('i.room_id', '=', 'r.id')
              .where('i.user_id', '<>', userId)
              .where((e) =>
                e.not(
                  e.exists(
                    e.selectFrom('chat_messages as m').select('m.id').whereRef('m.room_id', '=', 'i.room_id').whereRef('m.sender_id', '=', 'i.user_id'),
                  ),
                ),
              ),
          ),
        ),
      ]),
    )
    .execute();
}

/** Members of a direct-message room who have not taken part: invited by `openDm`, never written in it. */
export async function silentDmMembers(db: Db, roomId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('chat_invites as i')
    .select('i.user_id')
    .where('i.room_id', '=', roomId)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb.selectFrom('chat_messages as m').select('m.id').whereRef('m.room_id', '=', 'i.room_id').whereRef('m.sender_id', '=', 'i.user_id'),
        ),
      ),
    )
    .execute();
  return rows.map((r) => r.user_id);
}

export async function insertInvite(db: Db, roomId: number, userId: number, invitedBy: number, now: number) {
  await db
    .insertInto('chat_invites')
    .values({ room_id: roomId, user_id: userId, invited_by: invitedBy, created_at: now })
    .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing())
    .execute();
}

/** Spends an invitation; true when there was one. */
export async function takeInvite(db: Db, roomId: number, userId: number): Promise<boolean> {
  const r = await db
    .deleteFrom('chat_invites')
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Whether `userId` may read `fileId` because it was shared into a room they belong to. */
export async function fileSharedWith(db: Db, fileId: string, userId: number): Promise<boolean> {
  const r = await db
    .selectFrom('chat_messages as m')
    .innerJoin('chat_members as c', 'c.room_id', 'm.room_id')
    .select('m.id')
    .where('m.file_id', '=', fileId)
    .where('c.user_id', '=', userId)
    .limit(1)
    .executeTakeFirst();
  return r !== undefined;
}
