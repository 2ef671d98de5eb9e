import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Tables, UsersTable } from '../db/tables.js';

export type UserRow = Selectable<UsersTable>;
type Db = Kysely<Tables>;

export function findUserById(db: Db, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function insertUser(
  db: Db,
  row: Pick<UserRow, 'username' | 'email' | 'password_hash' | 'role' | 'created_at'>,
): Promise<UserRow> {
  return db
    .insertInto('users')
    .values({ ...row, disabled: 0, updated_at: row.created_at })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateUser(db: Db, id: number, patch: Updateable<UsersTable>): Promise<UserRow | undefined> {
  return db.updateTable('users').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteUser(db: Db, id: number): Promise<boolean> {
  const r = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export function listUsers(db: Db, limit: number, offset: number): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().orderBy('id').limit(limit).offset(offset).execute();
}

export async function countUsers(db: Db, role?: 'admin' | 'user', activeOnly = false): Promise<number> {
  let q = db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'));
  if (role) q = q.where('role', '=', role);
  if (activeOnly) q = q.where('disabled', '=', 0);
  const r = await q.executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Locks the active admins' rows (PostgreSQL) so concurrent demotions cannot remove the last one. */
export async function lockActiveAdmins(db: Db): Promise<void> {
  await db.selectFrom('users').select('id').where('role', '=', 'admin').where('disabled', '=', 0).forUpdate().execute();
}

/** Locks one user's row (PostgreSQL) so that transactions about that user run one at a time. */
export async function lockUser(db: Db, id: number): Promise<void> {
  await db.selectFrom('users').select('id').where('id', '=', id).forUpdate().execute();
}
