import type { Database } from '../db/connect.js';
import { type AuditSink, failureCode } from '../shared/audit-events.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { hashToken, randomId } from '../shared/ids.js';
import * as keys from './access-keys.repository.js';
import type { RequestContext, User } from './model.js';
import type { RateLimits } from './rate-limits.js';
import { lockUser } from './users.repository.js';

/** Seed 000's privilege elevation: a 1-hour access key, 32 random bytes, stored hashed. */
export const ACCESS_KEY_TTL_MS = 3600_000;

export interface ElevationDeps {
  database: Database;
  rateLimits: RateLimits;
  clock: Clock;
  audit: AuditSink;
}

export type ElevationService = ReturnType<typeof createElevationService>;

export function createElevationService({ database, rateLimits, clock, audit }: ElevationDeps) {
  const db = database.db;

  /** Issues a key; ACCESS_KEY_ACTIVE (409) while the user still holds a valid one. */
  async function elevate(user: User, ctx: RequestContext): Promise<{ key: string; expiresAt: number }> {
    try {
      const issued = await issue(user, ctx);
      audit.record({ action: 'elevate', outcome: 'success', actor: user, ip: ctx.ip, detail: { expiresAt: issued.expiresAt } });
      return issued;
    } catch (err) {
      audit.record({ action: 'elevate', outcome: 'failure', actor: user, ip: ctx.ip, detail: { code: failureCode(err) } });
      throw err;
    }
  }

  async function issue(user: User, ctx: RequestContext): Promise<{ key: string; expiresAt: number }> {
    await rateLimits.consume('elevateIp', ctx.ip);
    await rateLimits.consume('elevateAccount', String(user.id));
    const now = clock.now();
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
    await db.transaction().execute(async (trx) => {
      // Serialises concurrent elevations of one user on PostgreSQL (SQLite transactions already are).
      if (database.dialect === 'postgres') await lockUser(trx, user.id);
      await keys.deleteUserKeys(trx, user.id, now);
      if (await keys.findValidKeyForUser(trx, user.id, now)) {
        throw new AppError('ACCESS_KEY_ACTIVE', 'An access key is already active for this user');
      }
      await keys.insertAccessKey(trx, {
        id: randomId('key'),
        user_id: user.id,
        key_hash: hashToken(key),
        created_at: now,
        expires_at: now + ACCESS_KEY_TTL_MS,
      });
    });
    return { key, expiresAt: now + ACCESS_KEY_TTL_MS };
  }

  /** The user a presented key belongs to, while it is valid. */
  async function checkKey(key: string): Promise<{ userId: number; expiresAt: number } | undefined> {
    if (key.length === 0 || key.length > 200) return undefined;
    const row = await keys.findValidKeyByHash(db, hashToken(key), clock.now());
    return row ? { userId: row.user_id, expiresAt: row.expires_at } : undefined;
  }

  async function activeKeyOf(userId: number): Promise<{ expiresAt: number } | undefined> {
    const row = await keys.findValidKeyForUser(db, userId, clock.now());
    return row ? { expiresAt: row.expires_at } : undefined;
  }

  return { elevate, checkKey, activeKeyOf };
}
