import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { Config } from '../config.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-shape check: always runs one argon2 verification, even for unknown users. */
  verify(hashed: string | null, password: string): Promise<boolean>;
  needsRehash(hashed: string): boolean;
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
  return {
    hash: (password) => hash(password, options),
    async verify(hashed, password) {
      const target = hashed ?? (await dummy);
      try {
        const ok = await verify(target, password);
        return ok && hashed !== null;
      } catch {
        return false;
      }
    },
    needsRehash: (hashed) => !hashed.startsWith(marker),
  };
}
