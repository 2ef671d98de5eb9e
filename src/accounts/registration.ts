import { uniqueViolation } from '../db/errors.js';
import { AppError } from '../shared/errors.js';
import { randomToken } from '../shared/ids.js';
import type { AccountsDeps } from './accounts.service.js';
import { type RequestContext, type Role, toUser, type User } from './model.js';
import { checkEmail, checkPassword, checkUsername, usernameFromEmail } from './rules.js';
import * as users from './users.repository.js';

/** New accounts: the accounts service's register, createUser and validateNewUser. */

export interface RegisterInput {
  username?: string | undefined;
  email?: string | undefined;
  password: string;
}

type Deps = Pick<AccountsDeps, 'database' | 'config' | 'hasher' | 'rateLimits' | 'clock'>;

async function uniqueUsernameFor({ database }: Deps, email: string): Promise<string> {
  const base = usernameFromEmail(email);
  for (let i = 0; i < 50; i++) {
    const candidate = i === 0 ? base : `${base.slice(0, 26)}${i + 1}`;
    if (!(await users.findUserByUsername(database.db, candidate))) return candidate;
  }
  return `${base.slice(0, 20)}_${randomToken(6)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')}`.slice(0, 32);
}

/** Checks a new user's fields without storing anything; returns the normalised ones. */
export function validateNewUser({ config }: Pick<Deps, 'config'>, input: RegisterInput): { username?: string; email: string | null } {
  const email = input.email !== undefined && input.email !== '' ? checkEmail(input.email) : null;
  const username = input.username !== undefined && input.username !== '' ? checkUsername(input.username) : undefined;
  if (username === undefined && email === null) {
    throw new AppError('VALIDATION_FAILED', 'A username or an email is required');
  }
  checkPassword(input.password, config.password);
  return { ...(username ? { username } : {}), email };
}

/** Creates a user; `role` and skipping the registration mode are for admins and the CLI only. */
export async function createUser(deps: Deps, input: RegisterInput, role: Role = 'user'): Promise<User> {
  const { hasher, clock } = deps;
  const db = deps.database.db;
  const valid = validateNewUser(deps, input);
  const email = valid.email;
  const username = valid.username ?? (await uniqueUsernameFor(deps, email ?? ''));

  if (await users.findUserByUsername(db, username)) throw new AppError('USERNAME_TAKEN', 'Username is already taken');
  if (email && (await users.findUserByEmail(db, email))) {
    throw new AppError('EMAIL_TAKEN', 'Email is already registered');
  }
  const password_hash = await hasher.hash(input.password);
  try {
    const row = await users.insertUser(db, { username, email, password_hash, role, created_at: clock.now() });
    return toUser(row);
  } catch (err) {
    const col = uniqueViolation(err);
    if (col?.endsWith('email')) throw new AppError('EMAIL_TAKEN', 'Email is already registered');
    if (col) throw new AppError('USERNAME_TAKEN', 'Username is already taken');
    throw err;
  }
}

export async function register(deps: Deps, input: RegisterInput, ctx: RequestContext): Promise<User> {
  if (deps.config.registration === 'closed') {
    throw new AppError('REGISTRATION_CLOSED', 'Registration is closed on this server; ask an admin for an account');
  }
  await deps.rateLimits.consume('registerIp', ctx.ip);
  return createUser(deps, input);
}
