import { describe, expect, it } from 'vitest';
import { forEachInSlices } from './slices.js';

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
