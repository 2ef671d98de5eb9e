import type { Kysely, Selectable } from 'kysely';
import { precompile } from '../db/precompiled.js';
import type { RotatedRefreshTokensTable, SessionsTable, Tables } from '../db/tables.js';
import type { UserRow } from './users.repository.js';

export type SessionRow = Selectable<SessionsTable>;
type Db = Kysely<Tables>;

export async function insertSession(db: Db, row: Omit<SessionRow, 'revoked_at'>): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ ...row, revoked_at: null })
    .execute();
}

function liveSessionQuery(db: Db, by: 'sessions.id' | 'sessions.token_hash') {
  return precompile(['value', 'now'] as const, (p) =>
    db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id as s_id',
        'sessions.kind as s_kind',
        'sessions.token_hash as s_token_hash',
        'sessions.created_at as s_created_at',
        'sessions.last_seen_at as s_last_seen_at',
        'sessions.expires_at as s_expires_at',
        'sessions.user_agent as s_user_agent',
        'sessions.ip as s_ip',
        'users.id',
        'users.username',
        'users.email',
        'users.password_hash',
        'users.role',
        'users.disabled',
        'users.quota_bytes',
        'users.created_at',
        'users.updated_at',
      ])
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', p.now as unknown as number)
      .where(by, '=', p.value),
  );
}

type LiveSessionQuery = ReturnType<typeof liveSessionQuery>;
const compiledFor = new WeakMap<Db, { byId: LiveSessionQuery; byHash: LiveSessionQuery }>();

/** The live session and its user in one query: the hot path of every authenticated request. */
export async function findLiveSession(
  db: Db,
  where: { id: string } | { tokenHash: string },
  now: number,
): Promise<{ session: SessionRow; user: UserRow } | undefined> {
  let q = compiledFor.get(db);
  if (!q) {
    q = { byId: liveSessionQuery(db, 'sessions.id'), byHash: liveSessionQuery(db, 'sessions.token_hash') };
    compiledFor.set(db, q);
  }
  const compiled = 'id' in where ? q.byId({ value: where.id, now }) : q.byHash({ value: where.tokenHash, now });
  const r = (await db.executeQuery(compiled)).rows[0];
  if (!r) return undefined;
  return {
    session: {
      id: r.s_id,
      user_id: r.id,
      kind: r.s_kind,
      token_hash: r.s_token_hash,
      created_at: r.s_created_at,
      last_seen_at: r.s_last_seen_at,
      expires_at: r.s_expires_at,
      revoked_at: null,
      user_agent: r.s_user_agent,
      ip: r.s_ip,
    },
    user: {
      id: r.id,
      username: r.username,
      email: r.email,
      password_hash: r.password_hash,
      role: r.role,
      disabled: r.disabled,
      quota_bytes: r.quota_bytes,
      created_at: r.created_at,
      updated_at: r.updated_at,
    },
  };
}

export async function touchSession(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
}

export async function rotateSessionToken(db: Db, id: string, oldHash: string, newHash: string, now: number) {
  const r = await db
    .updateTable('sessions')
    .set({ token_hash: newHash, last_seen_at: now })
    .where('id', '=', id)
    .where('token_hash', '=', oldHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export type RotatedTokenRow = Selectable<RotatedRefreshTokensTable>;

/** Keeps a replaced refresh token's hash, what replaced it and from where (in the rotation's transaction). */
export async function insertRotatedToken(db: Db, row: RotatedTokenRow): Promise<void> {
  await db.insertInto('rotated_refresh_tokens').values(row).execute();
}

/** A replaced refresh token, if this hash is one. */
export async function findRotatedToken(db: Db, tokenHash: string): Promise<RotatedTokenRow | undefined> {
  return db.selectFrom('rotated_refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function revokeSession(db: Db, id: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function revokeUserSessions(db: Db, userId: number, now: number, exceptId?: string): Promise<number> {
  let q = db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (exceptId) q = q.where('id', '!=', exceptId);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** The addresses a user's sessions were opened from (ended ones too, until they are purged). */
export async function listSessionIps(db: Db, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('sessions')
    .select('ip')
    .distinct()
    .where('user_id', '=', userId)
    .where('ip', 'is not', null)
    .limit(1000)
    .execute();
  return rows.flatMap((r) => (r.ip === null ? [] : [r.ip]));
}

export function listUserSessions(db: Db, userId: number, now: number): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
}

/** Housekeeping: drop sessions that ended long enough ago to be of no audit use. */
export async function purgeEndedSessions(db: Db, before: number): Promise<void> {
  await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<', before), eb('revoked_at', '<', before)]))
    .execute();
}
