import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config, RateRule } from '../config.js';
import { AppError } from '../shared/errors.js';

export type RateKind = 'loginIp' | 'loginAccount' | 'registerIp' | 'elevateAccount' | 'elevateIp';

/**
 * Fixed-window counters per IP and per account. In memory for one instance; the same
 * rate-limiter-flexible API has a Redis store for several instances.
 */
export interface RateLimits {
  /** Counts one attempt; throws RATE_LIMITED (with Retry-After) when over the limit. */
  consume(kind: RateKind, key: string): Promise<void>;
  reset(kind: RateKind, key: string): Promise<void>;
}

export function createRateLimits(rules: Config['rateLimits']): RateLimits {
  const make = (rule: RateRule) => new RateLimiterMemory({ points: rule.points, duration: rule.durationSeconds });
  const limiters: Record<RateKind, RateLimiterMemory> = {
    loginIp: make(rules.loginPerIp),
    loginAccount: make(rules.loginPerAccount),
    registerIp: make(rules.registerPerIp),
    elevateAccount: make(rules.elevatePerAccount),
    elevateIp: make(rules.elevatePerIp),
  };
  const limited = (res: RateLimiterRes) =>
    new AppError('RATE_LIMITED', 'Too many attempts; try again later', {
      retryAfter: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    });
  return {
    async consume(kind, key) {
      try {
        await limiters[kind].consume(key);
      } catch (err) {
        if (err instanceof RateLimiterRes) throw limited(err);
        throw err;
      }
    },
    async reset(kind, key) {
      await limiters[kind].delete(key);
    },
  };
}
