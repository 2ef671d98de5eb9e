import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Runs `fn` over `items` in order, `size` at a time, letting the event loop run between slices:
 * a sweep over thousands of connections never holds up the frames and messages arriving meanwhile.
 * An asynchronous `fn` is awaited before the next item.
 */
export async function forEachInSlices<T>(items: Iterable<T>, size: number, fn: (item: T) => void | Promise<void>): Promise<void> {
  let n = 0;
  for (const item of items) {
    if (n > 0 && n % size === 0) await nextTurn();
    n++;
    await fn(item);
  }
}
