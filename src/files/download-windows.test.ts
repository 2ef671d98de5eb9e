import { describe, expect, it } from 'vitest';
import { CUT_ALLOWANCE, createDownloadWindows, WINDOW_MS } from './download-windows.js';

const MiB = 1024 * 1024;

/**
 * Each row: bodies one client asks for (length, then how the body ended) against a file of `size`;
 * `spent` is how many downloads they cost. A download yields the file's bytes once, plus what a
 * cut connection may have lost (once, at most CUT_ALLOWANCE).
 */
const ROWS: Array<{ name: string; size: number; bodies: Array<[number, number, boolean]>; spent: number; at?: number[] }> = [
  { name: 'one full body', size: 10, bodies: [[10, 10, true]], spent: 1 },
  { name: 'two full bodies', size: 10, bodies: [[10, 10, true], [10, 10, true]], spent: 2 },
  { name: 'a download in two slices', size: 10, bodies: [[9, 9, true], [1, 1, true]], spent: 1 },
  { name: 'the same slice twice', size: 10, bodies: [[9, 9, true], [9, 9, true]], spent: 2 },
  { name: 'a cut body resumed', size: 100 * MiB, bodies: [[100 * MiB, 5 * MiB, false], [97 * MiB, 97 * MiB, true]], spent: 1 },
  { name: 'an unread body costs nothing', size: 100, bodies: [[100, 0, false], [100, 100, true]], spent: 1 },
  {
    name: 'cut after cut: the allowance is given once',
    size: 10 * MiB,
    bodies: [[10 * MiB, 10 * MiB, false], [10 * MiB, 10 * MiB, false], [10 * MiB, 10 * MiB, true]],
    spent: 2,
  },
  {
    name: 'a big file loses at most the allowance on a cut',
    size: 100 * MiB,
    bodies: [[100 * MiB, 60 * MiB, false], [100 * MiB - 59 * MiB, 41 * MiB, true], [CUT_ALLOWANCE, CUT_ALLOWANCE, true]],
    spent: 2,
  },
  { name: 'a window closes after an hour', size: 10, bodies: [[5, 5, true], [5, 5, true]], spent: 2, at: [0, WINDOW_MS + 1] },
];

describe('download windows', () => {
  it.each(ROWS)('$name', ({ size, bodies, spent, at }) => {
    const windows = createDownloadWindows();
    let count = 0;
    for (const [i, [length, bytes, complete]] of bodies.entries()) {
      const now = at?.[i] ?? 0;
      let w = windows.take('shr_1', '10.0.0.1', length, now);
      if (!w) {
        count++;
        w = windows.open('shr_1', '10.0.0.1', size, length, now);
      }
      windows.settle(w, length, { bytes, complete }, now);
    }
    expect(count).toBe(spent);
  });

  it('keeps clients and links apart', () => {
    const windows = createDownloadWindows();
    windows.open('shr_1', '10.0.0.1', 10, 5, 0);
    expect(windows.take('shr_1', '10.0.0.2', 5, 0)).toBeUndefined();
    expect(windows.take('shr_2', '10.0.0.1', 5, 0)).toBeUndefined();
    expect(windows.take('shr_1', '10.0.0.1', 5, 0)).toBeDefined();
    expect(windows.isOpen('shr_1', '10.0.0.1', 0)).toBe(false);
  });
});
