import { describe, expect, it } from 'vitest';
import { forEachInSlices, runInSlices } from './slices.js';

describe('forEachInSlices', () => {
  it('visits every item in order, awaiting each, and lets the event loop run between slices only', async () => {
    const log: string[] = [];
    // Queued before the sweep starts: runs at the sweep's first pause, not before.
    setImmediate(() => log.push('other work'));
    await forEachInSlices([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      log.push(`start ${n}`);
      await Promise.resolve();
      log.push(`end ${n}`);
    });
    expect(log).toEqual([
      'start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3',
      'other work',
      'start 4', 'end 4', 'start 5', 'end 5', 'start 6', 'end 6',
      'start 7', 'end 7',
    ]);
  });

  it('does nothing for no items, and stops at the first error', async () => {
    let calls = 0;
    await forEachInSlices([], 2, () => {
      calls++;
    });
    expect(calls).toBe(0);
    await expect(
      forEachInSlices(new Set(['a', 'b', 'c']), 2, (s) => {
        calls++;
        if (s === 'b') throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(2);
  });
});

describe('runInSlices', () => {
  it('runs a slice at once, slices one after another', async () => {
    const done: number[] = [];
    let running = 0;
    let most = 0;
    await runInSlices([1, 2, 3, 4, 5], 2, 1000, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      done.push(n);
      running--;
    });
    expect(most).toBe(2);
    expect(done).toEqual([1, 2, 3, 4, 5]);
  });

  it('lets the event loop run between slices of work that never waits for I/O (SQLite lookups)', async () => {
    const log: string[] = [];
    setImmediate(() => log.push('other work'));
    await runInSlices([1, 2, 3, 4, 5], 2, 1000, async (n) => {
      await Promise.resolve();
      log.push(`done ${n}`);
    });
    expect(log).toEqual(['done 1', 'done 2', 'other work', 'done 3', 'done 4', 'done 5']);
  });

  it('stops waiting for a slice that hangs, and goes on with the next', async () => {
    const started: number[] = [];
    const t0 = Date.now();
    await runInSlices([1, 2, 3], 1, 50, async (n) => {
      started.push(n);
      if (n === 1) await new Promise(() => {}); // never settles
    });
    expect(started).toEqual([1, 2, 3]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
