import { RateLimiterRes } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BoundedRateLimiter } from './bounded-limiter.js';

/** Whether a consume was let through (the library rejects with a RateLimiterRes when over). */
async function allowed(limiter: BoundedRateLimiter, key: string): Promise<boolean> {
  try {
    await limiter.consume(key);
    return true;
  } catch (err) {
    if (err instanceof RateLimiterRes) return false;
    throw err;
  }
}

describe('BoundedRateLimiter: rate-limiter-flexible on a store with a size bound', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_700_000_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts like RateLimiterMemory: points per fixed window, then refused with msBeforeNext', async () => {
    const l = new BoundedRateLimiter({ points: 2, duration: 60, maxKeys: 10 });
    expect(await allowed(l, 'a')).toBe(true);
    expect(await allowed(l, 'a')).toBe(true);
    const refused = await l.consume('a').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimiterRes);
    expect((refused as RateLimiterRes).msBeforeNext).toBe(60_000);
    expect(await allowed(l, 'b')).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(await allowed(l, 'a')).toBe(true);
    await l.reward('a');
    expect((await l.get('a'))?.consumedPoints).toBe(0);
    expect(await l.delete('a')).toBe(true);
    expect(await l.get('a')).toBeNull();
  });

  it('never holds more than maxKeys, evicting the least recently used first; long keys cost a hash', async () => {
    const l = new BoundedRateLimiter({ points: 100, duration: 60, maxKeys: 100 });
    await l.consume('kept');
    for (let i = 0; i < 1000; i++) {
      await l.consume(`name:${i}@${'x'.repeat(300)}`);
      if (i % 50 === 0) await l.consume('kept');
    }
    expect(l.storage.size).toBe(100);
    expect(l.storage.evicted).toBe(901);
    // Touched every 50 keys, so never the least recently used one.
    expect((await l.get('kept'))?.consumedPoints).toBe(21);
    expect(await l.get('name:0@' + 'x'.repeat(300))).toBeNull();
  });

  it('a blocking key is never evicted: a flood of new keys does not lift its refusal', async () => {
    const l = new BoundedRateLimiter({ points: 3, duration: 900, maxKeys: 50 });
    for (let i = 0; i < 3; i++) await l.consume('victim-pair');
    expect(await allowed(l, 'victim-pair')).toBe(false);
    for (let i = 0; i < 10_000; i++) await l.consume(`flood-${i}`);
    expect(l.storage.size).toBe(50);
    expect(await allowed(l, 'victim-pair')).toBe(false);
  });

  it('when every key held is blocking, new keys share one bucket of the same limit', async () => {
    const l = new BoundedRateLimiter({ points: 2, duration: 60, maxKeys: 4 });
    for (const k of ['a', 'b', 'c', 'd']) {
      await l.consume(k);
      await l.consume(k);
    }
    expect([await allowed(l, 'e'), await allowed(l, 'f'), await allowed(l, 'g')]).toEqual([true, true, false]);
    expect(l.storage.overflowed).toBe(3);
    // The held keys are still refused, and nothing was evicted.
    expect(await allowed(l, 'a')).toBe(false);
    expect(l.storage.size).toBe(4);
    // Once their windows end, new keys get counters of their own again.
    vi.advanceTimersByTime(60_000);
    expect([await allowed(l, 'g'), await allowed(l, 'g'), await allowed(l, 'g')]).toEqual([true, true, false]);
  });

  it('a reward for a key it does not hold stores no credit', async () => {
    const l = new BoundedRateLimiter({ points: 1, duration: 60, maxKeys: 10 });
    await l.reward('never-seen');
    expect(await l.get('never-seen')).toBeNull();
    expect([await allowed(l, 'never-seen'), await allowed(l, 'never-seen')]).toEqual([true, false]);
  });

  it('expired windows are dropped as traffic moves on', async () => {
    const l = new BoundedRateLimiter({ points: 5, duration: 1, maxKeys: 1000 });
    for (let i = 0; i < 100; i++) await l.consume(`old-${i}`);
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 60; i++) await l.consume(`new-${i}`);
    expect(l.storage.size).toBe(60);
  });
});
