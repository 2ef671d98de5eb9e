import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';

export interface PasswordHasher {
  /** Throws SERVER_BUSY when too many argon2 runs are running and waiting already. */
  hash(password: string): Promise<string>;
  /**
   * Constant-shape check: always runs one argon2 verification, even for unknown users. Throws
   * SERVER_BUSY (before any work) when too many argon2 runs are running and waiting already.
   */
  verify(hashed: string | null, password: string): Promise<boolean>;
  needsRehash(hashed: string): boolean;
}

/**
 * At most `concurrency` argon2 runs at once, and at most `queue` more waiting (first come, first
 * served); past that, SERVER_BUSY at once. Each run holds a thread of libuv's pool (4 by default),
 * which file I/O shares, for ~50 ms: an unbounded queue let a login flood hold every thread and
 * make every later login, and every file read, wait behind it.
 */
function createGate(concurrency: number, queue: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(work: () => Promise<T>): Promise<T> {
    if (running < concurrency) {
      running++;
    } else {
      if (waiting.length >= queue) {
        throw new AppError('SERVER_BUSY', 'The server is busy checking passwords; retry in a moment', { retryAfter: 1 });
      }
      // The slot is handed over by the run that ends, so `running` stays as it is.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

export function createPasswordHasher(params: Config['argon2']): PasswordHasher {
  const options = {
    algorithm: 2 as Algorithm, // Algorithm.Argon2id (a const enum)
    memoryCost: params.memoryKiB,
    timeCost: params.timeCost,
    parallelism: 1,
  };
  const marker = `$argon2id$v=19$m=${params.memoryKiB},t=${params.timeCost},p=1$`;
  // Verified against when the user does not exist, so both paths cost one argon2 run.
  const dummy = hash('plaza-dummy-password-for-timing', options);
  const gate = createGate(params.concurrency, params.queue);
  return {
    hash: (password) => gate(() => hash(password, options)),
    async verify(hashed, password) {
      const target = hashed ?? (await dummy);
      return gate(async () => {
        try {
          const ok = await verify(target, password);
          return ok && hashed !== null;
        } catch {
          return false;
        }
      });
    },
    needsRehash: (hashed) => !hashed.startsWith(marker),
  };
}
