import { type RateLimiterAbstract, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config, RateRule } from '../config.js';
import { clientNetwork } from '../shared/client-network.js';
import { AppError } from '../shared/errors.js';
import { BoundedRateLimiter } from './bounded-limiter.js';

/** Limits counted per client network (see `clientNetwork`) or per account. */
export type RateKind = 'loginIp' | 'registerIp' | 'elevateAccount' | 'elevateIp' | 'currentPassword';

/** A password check that was let through; tell it how it went. */
export interface LoginAttempt {
  /** The password was right: the attempt is not held against the client or the account. */
  succeeded(): Promise<void>;
  /** The password was never checked (the server was busy): the attempt is taken back. */
  abandoned(): Promise<void>;
}

/**
 * Fixed-window counters per client network and per account. In memory for one instance, each
 * limiter holding at most `maxKeys` keys (bounded-limiter.ts); the same rate-limiter-flexible API
 * has a Redis store for several instances.
 */
export interface RateLimits {
  /** Counts one attempt; throws RATE_LIMITED (with Retry-After) when over the limit. */
  consume(kind: RateKind, key: string): Promise<void>;
  reset(kind: RateKind, key: string): Promise<void>;
  /**
   * Counts a password check against `account` from `ip` as a failure before it runs (so parallel
   * guesses are counted too); `succeeded` takes it back. Throws RATE_LIMITED when the client has
   * failed too often, against this account or overall, or when the account has failed too often
   * from everywhere and `knownIp` says the account never logged in from this client.
   */
  beginLogin(account: string, ip: string, knownIp: () => Promise<boolean>): Promise<LoginAttempt>;
}

function limited(res: RateLimiterRes) {
  return new AppError('RATE_LIMITED', 'Too many attempts; try again later', {
    retryAfter: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });
}

async function consumeOrRefuse(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw limited(err);
    throw err;
  }
}

export interface SharedLimitStore {
  /** An ioredis client (commands fail at once while Redis is away). */
  client: unknown;
  /** This cluster's key prefix. */
  prefix: string;
}

/**
 * With `shared` (several instances), counters live in Redis, so the limits hold whichever instance
 * a request reaches; while Redis is away each instance counts on its own (the insurance limiter)
 * rather than letting everything through or refusing everyone.
 */
export function createRateLimits(rules: Config['rateLimits'], options: { maxKeys: number; shared?: SharedLimitStore }): RateLimits {
  const make = (rule: RateRule, name: string): RateLimiterAbstract => {
    const memory = new BoundedRateLimiter({ points: rule.points, duration: rule.durationSeconds, maxKeys: options.maxKeys });
    if (!options.shared) return memory;
    return new RateLimiterRedis({
      storeClient: options.shared.client,
      keyPrefix: `${options.shared.prefix}rl:${name}`,
      points: rule.points,
      duration: rule.durationSeconds,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  };
  const limiters: Record<RateKind, RateLimiterAbstract> = {
    loginIp: make(rules.loginPerIp, 'loginIp'),
    registerIp: make(rules.registerPerIp, 'registerIp'),
    elevateAccount: make(rules.elevatePerAccount, 'elevateAccount'),
    elevateIp: make(rules.elevatePerIp, 'elevateIp'),
    // Someone holding a session guesses the current password: as many tries as one client gets
    // against one account at the login.
    currentPassword: make(rules.loginPerAccountIp, 'currentPassword'),
  };
  const perNetwork = new Set<RateKind>(['loginIp', 'registerIp', 'elevateIp']);
  const keyOf = (kind: RateKind, key: string) => (perNetwork.has(kind) ? clientNetwork(key) : key);
  const failuresPerIp = make(rules.loginFailuresPerIp, 'failuresPerIp');
  const failuresPerPair = make(rules.loginPerAccountIp, 'failuresPerPair');
  const failuresPerAccount = make(rules.loginPerAccount, 'failuresPerAccount');

  return {
    consume: (kind, key) => consumeOrRefuse(limiters[kind], keyOf(kind, key)),
    async reset(kind, key) {
      await limiters[kind].delete(keyOf(kind, key));
    },
    async beginLogin(account, ip, knownIp) {
      const network = clientNetwork(ip);
      // A network has no '|', so the pair's key is unambiguous whatever the account name holds.
      const pair = `${network}|${account}`;
      await consumeOrRefuse(failuresPerIp, network);
      await consumeOrRefuse(failuresPerPair, pair);
      try {
        await failuresPerAccount.consume(account);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        // Many networks together have failed against this account: new ones wait, but where the
        // owner logged in before, only that network's own limits apply.
        if (!(await knownIp())) throw limited(err);
      }
      return {
        async succeeded() {
          await failuresPerPair.delete(pair);
          await failuresPerIp.reward(network);
          // Only this attempt is taken back: the owner's login does not clear the others' failures.
          await failuresPerAccount.reward(account);
        },
        async abandoned() {
          await failuresPerPair.reward(pair);
          await failuresPerIp.reward(network);
          await failuresPerAccount.reward(account);
        },
      };
    },
  };
}
