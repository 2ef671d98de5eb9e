import { failureCode } from '../shared/audit-events.js';
import { AppError } from '../shared/errors.js';
import type { AccountsDeps } from './accounts.service.js';
import { type RequestContext, toUser, type User } from './model.js';
import { clientNetwork } from '../shared/client-network.js';
import { normalizeEmail, normalizeUsername } from './rules.js';
import * as sessions from './sessions.repository.js';
import * as users from './users.repository.js';

/** Password logins: the accounts service's verifyCredentials. */

type Deps = Pick<AccountsDeps, 'database' | 'hasher' | 'rateLimits' | 'audit'>;

async function findByIdentifier({ database }: Deps, identifier: string) {
  const id = identifier.trim();
  // No stored name or email contains control characters; PostgreSQL rejects NUL outright.
  if (id.length === 0 || id.length > 320 || /[\u0000-\u001f\u007f]/.test(id)) return undefined;
  if (id.includes('@')) return users.findUserByEmail(database.db, normalizeEmail(id));
  return users.findUserByUsername(database.db, normalizeUsername(id));
}

/** Whether `userId` ever logged in from the client network of `ip` (sessions keep their IP). */
async function loggedInFrom({ database }: Deps, userId: number | undefined, ip: string): Promise<boolean> {
  // Unknown names run the same query, so the answer takes the same time for both.
  const ips = await sessions.listSessionIps(database.db, userId ?? 0);
  const network = clientNetwork(ip);
  return ips.some((known) => clientNetwork(known) === network);
}

/**
 * Checks a password. Unknown users and wrong passwords take the same time and give the same
 * error. Attempts are limited per client (all attempts, and failures), per (account, client)
 * and per account; failures of others never lock the owner out (decision 0003).
 */
export async function verifyCredentials(deps: Deps, identifier: string, password: string, ctx: RequestContext): Promise<User> {
  const seen: { row?: users.UserRow | undefined } = {};
  try {
    const user = await checkCredentials(deps, identifier, password, ctx, seen);
    deps.audit.record({ action: 'login', outcome: 'success', actor: user, ip: ctx.ip });
    return user;
  } catch (err) {
    // The name tried is kept (a typo'd password in the name field is cut to what a name can be).
    const actor = seen.row ? { id: seen.row.id, username: seen.row.username } : undefined;
    deps.audit.record({ action: 'login', outcome: 'failure', actor, ip: ctx.ip, target: identifier.trim().slice(0, 64), detail: { code: failureCode(err) } });
    throw err;
  }
}

async function checkCredentials(
  deps: Deps,
  identifier: string,
  password: string,
  ctx: RequestContext,
  seen: { row?: users.UserRow | undefined },
): Promise<User> {
  const { rateLimits, hasher } = deps;
  await rateLimits.consume('loginIp', ctx.ip);
  const row = password.length <= 4096 ? await findByIdentifier(deps, identifier) : undefined;
  seen.row = row;
  // Keyed on the account, so its username and email share one budget. A name that is no
  // account gets a counter of its own, exactly like an account (the limiters store every key as
  // a 16-byte hash and hold a bounded number of them): a counter shared by unknown names would
  // fill up and answer 429 for them alone, telling them apart from accounts (decision 0003).
  const accountKey = row ? `user:${row.id}` : `name:${identifier.trim().toLowerCase().normalize('NFKC').slice(0, 320)}`;
  const attempt = await rateLimits.beginLogin(accountKey, ctx.ip, () => loggedInFrom(deps, row?.id, ctx.ip));
  let ok: boolean;
  try {
    ok = await hasher.verify(row?.password_hash ?? null, password);
  } catch (err) {
    // SERVER_BUSY: the password was not checked, so the attempt is not held against anyone.
    await attempt.abandoned();
    throw err;
  }
  if (!row || !ok) throw new AppError('INVALID_CREDENTIALS', 'Incorrect username, email or password');
  if (row.disabled === 1) throw new AppError('ACCOUNT_DISABLED', 'This account is disabled');
  await attempt.succeeded();
  if (hasher.needsRehash(row.password_hash)) {
    try {
      await users.updateUser(deps.database.db, row.id, { password_hash: await hasher.hash(password) });
    } catch (err) {
      // A busy server upgrades the hash at a later login instead of failing this one.
      if (!(err instanceof AppError && err.code === 'SERVER_BUSY')) throw err;
    }
  }
  return toUser(row);
}
