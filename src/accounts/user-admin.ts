import { type AuditContext, type AuditEvent, failureCode } from '../shared/audit-events.js';
import { AppError } from '../shared/errors.js';
import * as keys from './access-keys.repository.js';
import { type Role, toUser, type User } from './model.js';
import { checkPassword } from './rules.js';
import * as sessions from './sessions.repository.js';
import type { UsersDeps } from './users.service.js';
import * as users from './users.repository.js';

export interface AdminPatch {
  role?: Role | undefined;
  disabled?: boolean | undefined;
  email?: string | null | undefined;
}

/** What the admin calls share with the rest of the users service. */
export interface UserAdminDeps extends Pick<UsersDeps, 'database' | 'config' | 'hasher' | 'clock' | 'audit'> {
  changed: (userId: number) => void;
  notFound: () => AppError;
  getVisible: (viewer: User, id: number) => Promise<User>;
  findByUsername: (username: string) => Promise<User | undefined>;
  setEmail: (id: number, email: string | null, now: number) => Promise<unknown>;
}

/** The users service's admin changes (API and CLI), with the last active admin kept. */
export function createUserAdmin(deps: UserAdminDeps) {
  const { database, config, hasher, clock, audit, changed, notFound, getVisible, findByUsername, setEmail } = deps;
  const db = database.db;

  /** Runs `work`, recording each of `events` with its outcome (the error code on failure). */
  async function audited<T>(events: Omit<AuditEvent, 'outcome'>[], work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      for (const e of events) audit.record({ ...e, outcome: 'success' });
      return result;
    } catch (err) {
      for (const e of events) audit.record({ ...e, outcome: 'failure', detail: { ...e.detail, code: failureCode(err) } });
      throw err;
    }
  }

  /** The audit events of an admin's patch (role, disable/enable; an email change is not audited). */
  function patchEvents(viewer: User, id: number, patch: AdminPatch, ip: string | undefined): Omit<AuditEvent, 'outcome'>[] {
    const base = { actor: viewer, ip, target: `user:${id}` };
    return [
      ...(patch.role !== undefined ? [{ ...base, action: 'user.role' as const, detail: { role: patch.role } }] : []),
      ...(patch.disabled !== undefined ? [{ ...base, action: patch.disabled ? ('user.disable' as const) : ('user.enable' as const) }] : []),
    ];
  }

  /**
   * Runs `write` in a transaction that first checks `target` is not the last active admin (when
   * `guard`); admin rows are locked on PostgreSQL so two demotions cannot both pass the check.
   */
  async function withAdminGuard<T>(target: User, guard: boolean, write: (trx: typeof db) => Promise<T>): Promise<T> {
    return db.transaction().execute(async (trx) => {
      if (guard && target.role === 'admin' && !target.disabled) {
        if (database.dialect === 'postgres') await users.lockActiveAdmins(trx);
        if ((await users.countUsers(trx, 'admin', true)) <= 1) {
          throw new AppError('LAST_ADMIN', 'This is the last active admin; promote another admin first');
        }
      }
      return write(trx);
    });
  }

  function adminUpdate(viewer: User, id: number, patch: AdminPatch, ctx?: AuditContext): Promise<User> {
    return audited(patchEvents(viewer, id, patch, ctx?.ip), () => applyAdminPatch(viewer, id, patch));
  }

  async function applyAdminPatch(viewer: User, id: number, patch: AdminPatch): Promise<User> {
    if (viewer.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin can change other users');
    const target = await getVisible(viewer, id);
    const now = clock.now();
    if (patch.role !== undefined || patch.disabled !== undefined) {
      await withAdminGuard(target, patch.role === 'user' || patch.disabled === true, (trx) =>
        users.updateUser(trx, id, {
          ...(patch.role !== undefined ? { role: patch.role } : {}),
          ...(patch.disabled !== undefined ? { disabled: patch.disabled ? 1 : 0 } : {}),
          updated_at: now,
        }),
      );
    }
    if (patch.disabled === true) {
      await sessions.revokeUserSessions(db, id, now);
      await keys.deleteUserKeys(db, id);
    }
    changed(id);
    if (patch.email !== undefined) await setEmail(id, patch.email, now);
    return getVisible(viewer, id);
  }

  function remove(viewer: User, id: number, ctx?: AuditContext): Promise<void> {
    return audited([{ action: 'user.delete', actor: viewer, ip: ctx?.ip, target: `user:${id}` }], async () => {
      if (viewer.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin can delete users');
      const target = await getVisible(viewer, id);
      await withAdminGuard(target, true, (trx) => users.deleteUser(trx, id));
      changed(id);
    });
  }

  /** CLI: `plaza admin set-role`. */
  function setRole(username: string, role: Role): Promise<User> {
    return audited([{ action: 'user.role', ip: 'cli', target: `username:${username.slice(0, 64)}`, detail: { role } }], () => applyRole(username, role));
  }

  async function applyRole(username: string, role: Role): Promise<User> {
    const target = await findByUsername(username);
    if (!target) throw notFound();
    const row = await withAdminGuard(target, role === 'user', (trx) =>
      users.updateUser(trx, target.id, { role, updated_at: clock.now() }),
    );
    changed(target.id);
    if (!row) throw notFound();
    return toUser(row);
  }

  /** CLI: `plaza admin reset-password`; ends all of the user's sessions and keys. */
  function resetPassword(username: string, password: string): Promise<User> {
    return audited([{ action: 'password.reset', ip: 'cli', target: `username:${username.slice(0, 64)}` }], () => applyReset(username, password));
  }

  async function applyReset(username: string, password: string): Promise<User> {
    const target = await findByUsername(username);
    if (!target) throw notFound();
    checkPassword(password, config.password);
    const now = clock.now();
    await users.updateUser(db, target.id, { password_hash: await hasher.hash(password), updated_at: now });
    await sessions.revokeUserSessions(db, target.id, now);
    await keys.deleteUserKeys(db, target.id);
    changed(target.id);
    return target;
  }

  return { adminUpdate, remove, setRole, resetPassword };
}
