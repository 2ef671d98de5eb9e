import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import { uniqueViolation } from '../db/errors.js';
import { type AuditContext, type AuditSink, failureCode } from '../shared/audit-events.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import * as keys from './access-keys.repository.js';
import { type Principal, toUser, type User } from './model.js';
import { createUserAdmin } from './user-admin.js';
import type { PasswordHasher } from './passwords.js';
import { checkEmail, checkPassword, normalizeUsername } from './rules.js';
import type { RateLimits } from './rate-limits.js';
import type { SessionCache } from './session-cache.js';
import * as sessions from './sessions.repository.js';
import * as users from './users.repository.js';

export interface UsersDeps {
  database: Database;
  config: Pick<Config, 'password'>;
  hasher: PasswordHasher;
  clock: Clock;
  sessionCache: SessionCache;
  rateLimits: RateLimits;
  audit: AuditSink;
}

export interface ProfilePatch {
  email?: string | null | undefined;
  password?: string | undefined;
  currentPassword?: string | undefined;
}

export type { AdminPatch } from './user-admin.js';

export type UsersService = ReturnType<typeof createUsersService>;

/** Reading and changing users, with SPEC §2's visibility: admins see all, users only themselves. */
export function createUsersService({ database, config, hasher, clock, sessionCache, rateLimits, audit }: UsersDeps) {
  const db = database.db;

  /** Every change to a user or their sessions drops what this instance remembers of them. */
  const changed = (userId: number) => sessionCache.invalidateUser(userId);

  const notFound = () => new AppError('NOT_FOUND', 'No such user');

  async function getVisible(viewer: User, id: number): Promise<User> {
    if (viewer.role !== 'admin' && viewer.id !== id) throw notFound();
    const row = await users.findUserById(db, id);
    if (!row) throw notFound();
    return toUser(row);
  }

  async function listVisible(viewer: User, limit = 100, offset = 0): Promise<{ users: User[]; total: number }> {
    if (viewer.role !== 'admin') return { users: [await getVisible(viewer, viewer.id)], total: 1 };
    const rows = await users.listUsers(db, limit, offset);
    return { users: rows.map(toUser), total: await users.countUsers(db) };
  }

  async function findByUsername(username: string): Promise<User | undefined> {
    const name = normalizeUsername(username);
    if (!/^[a-z0-9_.-]{1,64}$/.test(name)) return undefined;
    const row = await users.findUserByUsername(db, name);
    return row ? toUser(row) : undefined;
  }

  async function setEmail(id: number, email: string | null, now: number) {
    try {
      const row = await users.updateUser(db, id, { email: email === null ? null : checkEmail(email), updated_at: now });
      changed(id);
      return row;
    } catch (err) {
      if (uniqueViolation(err)) throw new AppError('EMAIL_TAKEN', 'Email is already registered');
      throw err;
    }
  }

  /** Changing the password needs the current one and ends every other session of the user. */
  async function updateOwnProfile(
    principal: Principal,
    patch: ProfilePatch,
    ctx?: AuditContext,
  ): Promise<{ user: User; revokedSessions: number }> {
    if (patch.password === undefined) return applyProfile(principal, patch);
    const event = { action: 'password.change', actor: principal.user, ip: ctx?.ip } as const;
    try {
      const done = await applyProfile(principal, patch);
      audit.record({ ...event, outcome: 'success', detail: { revokedSessions: done.revokedSessions } });
      return done;
    } catch (err) {
      audit.record({ ...event, outcome: 'failure', detail: { code: failureCode(err) } });
      throw err;
    }
  }

  async function applyProfile(principal: Principal, patch: ProfilePatch): Promise<{ user: User; revokedSessions: number }> {
    const now = clock.now();
    const id = principal.user.id;
    let revokedSessions = 0;
    // Everything that can fail is checked before anything changes.
    if (patch.email !== undefined && patch.email !== null) {
      const other = await users.findUserByEmail(db, checkEmail(patch.email));
      if (other && other.id !== id) throw new AppError('EMAIL_TAKEN', 'Email is already registered');
    }
    if (patch.password !== undefined) {
      const row = await users.findUserById(db, id);
      if (!row) throw notFound();
      checkPassword(patch.password, config.password);
      // Guessing the current password through a stolen session is limited like logins.
      await rateLimits.consume('currentPassword', `user:${id}`);
      if (patch.currentPassword === undefined || !(await hasher.verify(row.password_hash, patch.currentPassword))) {
        throw new AppError('INVALID_CREDENTIALS', 'Current password is incorrect');
      }
      await rateLimits.reset('currentPassword', `user:${id}`);
      await users.updateUser(db, id, { password_hash: await hasher.hash(patch.password), updated_at: now });
      revokedSessions = await sessions.revokeUserSessions(db, id, now, principal.sessionId);
      await keys.deleteUserKeys(db, id);
      changed(id);
    }
    if (patch.email !== undefined) await setEmail(id, patch.email, now);
    const row = await users.findUserById(db, id);
    if (!row) throw notFound();
    return { user: toUser(row), revokedSessions };
  }

  async function findById(id: number): Promise<User | undefined> {
    const row = await users.findUserById(db, id);
    return row ? toUser(row) : undefined;
  }

  async function countAdmins(): Promise<number> {
    return users.countUsers(db, 'admin');
  }

  const admin = createUserAdmin({ database, config, hasher, clock, audit, changed, notFound, getVisible, findByUsername, setEmail });

  return {
    getVisible,
    listVisible,
    findByUsername,
    updateOwnProfile,
    adminUpdate: admin.adminUpdate,
    remove: admin.remove,
    setRole: admin.setRole,
    resetPassword: admin.resetPassword,
    countAdmins,
    findById,
  };
}
