import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** How many of the least recently used entries one insertion looks at to make room. */
const SCAN = 32;

/**
 * A store for rate-limiter-flexible's `RateLimiterMemory` (its `MemoryStorage` methods `incrby`,
 * `set`, `get` and `delete`) that holds at most `maxKeys` keys, with no timer per key:
 *
 * - keys are 16-byte SHA-256 prefixes, so a 320-character identifier costs what an id costs;
 * - entries are kept in least-recently-used order (a linked list over arrays: every operation is
 *   O(1)), and expired ones are dropped from the old end as they are met;
 * - a new key in a full store evicts, among the `SCAN` least recently used entries, the first
 *   that is expired or not blocking (its count below the limit). A blocking entry is never
 *   evicted, so flooding the store does not lift a refusal;
 * - when those are all blocking, the new key is counted in one bucket shared by every such key
 *   until room frees up: stricter than a key of its own, never "no limit".
 *
 * `dump()` and `restore()` of the library are not supported (the keys are hashed).
 */
export class BoundedMemoryStorage {
  private readonly slots = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly counts: number[] = [];
  /** When each window ends (ms since the epoch; Infinity: never). */
  private readonly ends: number[] = [];
  private readonly prev: number[] = [];
  private readonly next: number[] = [];
  private readonly free: number[] = [];
  /** Least and most recently used slots (-1: none). */
  private head = -1;
  private tail = -1;
  private overflowCount = 0;
  private overflowEnd = 0;
  /** Entries evicted to make room, and counts that went to the shared bucket (for tests and logs). */
  evicted = 0;
  overflowed = 0;

  constructor(
    private readonly points: number,
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  incrby(key: string, value: number, durationSec: number): RateLimiterRes {
    const now = Date.now();
    this.dropExpiredOldest(now);
    const k = hashKey(key);
    const i = this.find(k, now);
    if (i >= 0) {
      this.touch(i);
      this.counts[i] = (this.counts[i] as number) + value;
      return res(this.counts[i] as number, this.ends[i] as number, now, false);
    }
    if (value < 0) {
      // A reward for a key that is not held: it was counted in the shared bucket, or evicted. No
      // credit is stored for later (the library's own store would keep a negative count).
      if (this.overflowEnd > now) this.overflowCount = Math.max(0, this.overflowCount + value);
      return new RateLimiterRes(0, 0, 0, false);
    }
    return this.insert(k, value, durationSec, now);
  }

  set(key: string, value: number, durationSec: number): RateLimiterRes {
    const now = Date.now();
    const k = hashKey(key);
    const i = this.find(k, now);
    if (i >= 0) this.remove(i);
    return this.insert(k, value, durationSec, now);
  }

  get(key: string): RateLimiterRes | null {
    const now = Date.now();
    const i = this.find(hashKey(key), now);
    return i >= 0 ? res(this.counts[i] as number, this.ends[i] as number, now, false) : null;
  }

  delete(key: string): boolean {
    const i = this.slots.get(hashKey(key));
    if (i === undefined) return false;
    this.remove(i);
    return true;
  }

  private insert(k: string, value: number, durationSec: number, now: number): RateLimiterRes {
    const end = durationSec > 0 ? now + durationSec * 1000 : Infinity;
    if (this.slots.size >= this.maxKeys && !this.makeRoom(now)) {
      this.overflowed++;
      const first = this.overflowEnd <= now;
      if (first) {
        this.overflowCount = value;
        this.overflowEnd = end;
      } else {
        this.overflowCount += value;
      }
      return res(this.overflowCount, this.overflowEnd, now, first);
    }
    const i = this.free.pop() ?? this.keys.length;
    this.keys[i] = k;
    this.counts[i] = value;
    this.ends[i] = end;
    this.prev[i] = -1;
    this.next[i] = -1;
    this.slots.set(k, i);
    this.linkTail(i);
    return res(value, end, now, true);
  }

  /** The slot of a key whose window is still open; an expired one is dropped. */
  private find(k: string, now: number): number {
    const i = this.slots.get(k);
    if (i === undefined) return -1;
    if ((this.ends[i] as number) <= now) {
      this.remove(i);
      return -1;
    }
    return i;
  }

  /** Keeps dead windows from piling up once traffic moves on: the two oldest, if expired. */
  private dropExpiredOldest(now: number) {
    for (let n = 0; n < 2 && this.head >= 0 && (this.ends[this.head] as number) <= now; n++) this.remove(this.head);
  }

  /** Frees one slot among the least recently used; false when they are all blocking. */
  private makeRoom(now: number): boolean {
    for (let n = 0; n < SCAN && this.head >= 0; n++) {
      const i = this.head;
      if ((this.ends[i] as number) <= now) {
        this.remove(i);
        return true;
      }
      if ((this.counts[i] as number) < this.points) {
        this.remove(i);
        this.evicted++;
        return true;
      }
      // Blocking: kept, and moved out of the way of the next scan.
      this.touch(i);
    }
    return false;
  }

  private remove(i: number) {
    this.slots.delete(this.keys[i] as string);
    this.unlink(i);
    this.keys[i] = '';
    this.free.push(i);
  }

  private touch(i: number) {
    if (i === this.tail) return;
    this.unlink(i);
    this.linkTail(i);
  }

  private unlink(i: number) {
    const p = this.prev[i] as number;
    const n = this.next[i] as number;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.prev[i] = -1;
    this.next[i] = -1;
  }

  private linkTail(i: number) {
    this.prev[i] = this.tail;
    this.next[i] = -1;
    if (this.tail >= 0) this.next[this.tail] = i;
    else this.head = i;
    this.tail = i;
  }
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest().toString('latin1', 0, 16);
}

function res(count: number, end: number, now: number, first: boolean): RateLimiterRes {
  return new RateLimiterRes(0, end === Infinity ? -1 : end - now, count, first);
}

/**
 * rate-limiter-flexible's in-memory limiter (fixed windows, the same API as its Redis store) on a
 * `BoundedMemoryStorage` instead of its own store, which keeps every key and a timer per key.
 */
export class BoundedRateLimiter extends RateLimiterMemory {
  readonly storage: BoundedMemoryStorage;

  constructor(opts: { points: number; duration: number; maxKeys: number }) {
    super({ points: opts.points, duration: opts.duration, keyPrefix: '' });
    const self = this as unknown as { _memoryStorage?: unknown };
    // The store is a private field of the library: fail at start, not silently unbounded, if a
    // new version renames it.
    if (self._memoryStorage === undefined) throw new Error('rate-limiter-flexible has no _memoryStorage to replace');
    this.storage = new BoundedMemoryStorage(opts.points, opts.maxKeys);
    self._memoryStorage = this.storage;
  }
}
