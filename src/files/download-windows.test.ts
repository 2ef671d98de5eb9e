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
  it.each(ROWS)('$name', async ({ size, bodies, spent, at }) => {
    const windows = createDownloadWindows();
    let count = 0;
    for (const [i, [length, bytes, complete]] of bodies.entries()) {
      const now = at?.[i] ?? 0;
      const w = await windows.charge('shr_1', '10.0.0.1', length, size, now, async () => void count++);
      windows.settle(w, length, { bytes, complete }, now);
    }
    expect(count).toBe(spent);
  });

  it('keeps clients and links apart', async () => {
    const windows = createDownloadWindows();
    let count = 0;
    const spend = async () => void count++;
    await windows.charge('shr_1', '10.0.0.1', 5, 10, 0, spend);
    await windows.charge('shr_1', '10.0.0.2', 5, 10, 0, spend);
    await windows.charge('shr_2', '10.0.0.1', 5, 10, 0, spend);
    expect(count).toBe(3);
    await windows.charge('shr_1', '10.0.0.1', 5, 10, 0, spend);
    expect(count).toBe(3);
    expect(windows.isOpen('shr_1', '10.0.0.1', 0)).toBe(false);
  });

  it('counts a client by its network: one IPv6 /64 (or an IPv4 address, mapped or not) is one client', async () => {
    const windows = createDownloadWindows();
    let count = 0;
    const spend = async () => void count++;
    await windows.charge('shr_1', '2001:db8:1:2::a', 4, 12, 0, spend);
    await windows.charge('shr_1', '2001:db8:1:2:ffff::b', 4, 12, 0, spend);
    expect(windows.isOpen('shr_1', '2001:db8:1:2::c', 0)).toBe(true);
    expect(windows.isOpen('shr_1', '2001:db8:1:3::a', 0)).toBe(false);
    await windows.charge('shr_1', '::ffff:10.0.0.1', 4, 12, 0, spend);
    await windows.charge('shr_1', '10.0.0.1', 4, 12, 0, spend);
    expect(count).toBe(2);
  });

  it("parallel first bodies share one spend, and all get the spend's failure", async () => {
    const windows = createDownloadWindows();
    let count = 0;
    let release!: () => void;
    const slow = () => {
      count++;
      return new Promise<void>((r) => (release = r));
    };
    const parts = [0, 1, 2, 3].map(() => windows.charge('shr_1', '10.0.0.1', 25, 100, 0, slow));
    release();
    const got = await Promise.all(parts);
    expect(count).toBe(1);
    expect(new Set(got).size).toBe(1);

    const usedUp = new Error('used up');
    let fail!: () => void;
    const refused = () => {
      count++;
      return new Promise<void>((_, reject) => (fail = () => reject(usedUp)));
    };
    const others = [0, 1, 2, 3].map(() => windows.charge('shr_1', '10.0.0.2', 20, 100, 0, refused));
    expect(windows.isOpen('shr_1', '10.0.0.2', 0)).toBe(true);
    fail();
    expect(await Promise.allSettled(others)).toEqual(Array(4).fill({ status: 'rejected', reason: usedUp }));
    expect(count).toBe(2);
    // The failed window is gone: the next body asks for a download of its own.
    expect(windows.isOpen('shr_1', '10.0.0.2', 0)).toBe(false);
    await windows.charge('shr_1', '10.0.0.2', 25, 100, 0, async () => void count++);
    expect(count).toBe(3);
  });

  it('a body too big for the open window whose spend fails leaves that window as it was', async () => {
    const windows = createDownloadWindows();
    let count = 0;
    await windows.charge('shr_1', '10.0.0.1', 9, 10, 0, async () => void count++);
    const usedUp = new Error('used up');
    await expect(windows.charge('shr_1', '10.0.0.1', 9, 10, 0, () => Promise.reject(usedUp))).rejects.toBe(usedUp);
    expect(windows.isOpen('shr_1', '10.0.0.1', 0)).toBe(true);
    await windows.charge('shr_1', '10.0.0.1', 1, 10, 0, async () => void count++);
    expect(count).toBe(1);
  });
});
