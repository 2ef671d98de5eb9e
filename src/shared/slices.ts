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

/**
 * Runs the asynchronous `fn` over `items`, `size` at once, one slice per turn of the event loop
 * (a slice of database lookups costs one round trip, not `size`). A slice still unfinished after
 * `patienceMs` is not waited for any longer: the next one starts, and the stragglers finish on
 * their own. `fn` must not throw.
 */
export async function runInSlices<T>(items: Iterable<T>, size: number, patienceMs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let slice: T[] = [];
  const runSlice = async () => {
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, patienceMs);
      timer.unref();
    });
    await Promise.race([Promise.all(slice.map(fn)), patience]);
    clearTimeout(timer);
    slice = [];
    await nextTurn();
  };
  for (const item of items) {
    slice.push(item);
    if (slice.length === size) await runSlice();
  }
  if (slice.length > 0) await runSlice();
}
