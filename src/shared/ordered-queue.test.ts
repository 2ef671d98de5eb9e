import { describe, expect, it } from 'vitest';
import { createOrderedQueue } from './ordered-queue.js';

describe('ordered queue', () => {
  it('runs tasks one at a time in order, async or not, and counts what waits', async () => {
    const seen: string[] = [];
    const q = createOrderedQueue(() => {});
    q.push(async () => {
      await new Promise((r) => setTimeout(r, 10));
      seen.push('slow');
    });
    q.push(() => seen.push('sync'));
    q.push(async () => seen.push('last'));
    expect(q.pending).toBe(3);
    await q.idle();
    expect(seen).toEqual(['slow', 'sync', 'last']);
    expect(q.pending).toBe(0);
  });

  it('hands a failure to onError and goes on with the next task', async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const q = createOrderedQueue((e) => errors.push(e));
    q.push(() => {
      throw new Error('first');
    });
    q.push(async () => {
      throw new Error('second');
    });
    q.push(() => seen.push(3));
    await q.idle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['first', 'second']);
    expect(seen).toEqual([3]);
  });

  it('drops tasks after close, including ones already waiting', async () => {
    const seen: number[] = [];
    const q = createOrderedQueue(() => {});
    q.push(async () => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(1);
      q.close();
    });
    q.push(() => seen.push(2));
    await q.idle();
    q.push(() => seen.push(3));
    await q.idle();
    expect(seen).toEqual([1]);
    expect(q.pending).toBe(0);
  });
});
