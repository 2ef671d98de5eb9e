import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { hashToken, randomToken } from '../shared/ids.js';
import type { AccountsService, RegisterInput } from './accounts.service.js';
import type { User } from './model.js';
import * as setupTokens from './setup-tokens.repository.js';
import type { UsersService } from './users.service.js';

/** A setup link stays usable for a day; a restart issues a fresh one while no admin exists. */
const SETUP_TTL_MS = 24 * 3600_000;

export interface SetupDeps {
  database: Database;
  accounts: AccountsService;
  users: UsersService;
  clock: Clock;
}

export type FirstAdminOutcome =
  | { kind: 'exists' }
  | { kind: 'created'; user: User }
  | { kind: 'setup-token'; token: string };

export type SetupService = ReturnType<typeof createSetupService>;

/** The first admin, without any default password (SPEC §2). */
export function createSetupService({ database, accounts, users, clock }: SetupDeps) {
  const db = database.db;

  async function ensureFirstAdmin(admin: Config['admin']): Promise<FirstAdminOutcome> {
    if ((await users.countAdmins()) > 0) return { kind: 'exists' };
    if (admin) {
      const user = await accounts.createUser(admin, 'admin');
      return { kind: 'created', user };
    }
    const token = randomToken(32);
    const now = clock.now();
    await setupTokens.replaceSetupToken(db, hashToken(token), now, now + SETUP_TTL_MS);
    return { kind: 'setup-token', token };
  }

  /** Redeems a one-time setup token for the first admin account. */
  async function completeSetup(token: string, input: RegisterInput): Promise<User> {
    if ((await users.countAdmins()) > 0) throw new AppError('FORBIDDEN', 'Setup is already complete');
    accounts.validateNewUser(input);
    const tokenHash = hashToken(token);
    const invalid = () => new AppError('INVALID_TOKEN', 'Setup link is invalid, expired or already used');
    if (!(await setupTokens.isLiveSetupToken(db, tokenHash, clock.now()))) throw invalid();
    // The token is spent only once the admin exists, so a taken name does not burn the link;
    // of two racing redemptions, the loser's account is removed again.
    const user = await accounts.createUser(input, 'admin');
    if (!(await setupTokens.consumeSetupToken(db, tokenHash, clock.now()))) {
      await accounts.removeUnchecked(user.id);
      throw invalid();
    }
    return user;
  }

  return { ensureFirstAdmin, completeSetup };
}
