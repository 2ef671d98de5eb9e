import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Secrets copied from documents and tutorials, including seed 004's published SECRET_KEY. */
const WELL_KNOWN = new Set([
  '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
  'secret',
  'changeme',
  'change-me',
  'password',
  'your-secret-key',
  'your_secret_key',
  'supersecret',
  'plaza',
]);

export const MIN_SECRET_LENGTH = 32;

export class SecretError extends Error {
  override name = 'SecretError';
}

export function checkSecret(secret: string, source: string): string {
  const s = secret.trim();
  if (s === '') throw new SecretError(`${source} is empty; refusing to start`);
  if (s.length < MIN_SECRET_LENGTH) {
    throw new SecretError(`${source} is shorter than ${MIN_SECRET_LENGTH} characters; refusing to start`);
  }
  if (WELL_KNOWN.has(s.toLowerCase()) || /^(.)\1+$/.test(s)) {
    throw new SecretError(`${source} is a well-known or trivial value; refusing to start`);
  }
  return s;
}

/**
 * Returns the server secret: PLAZA_SECRET if given, else `<dataDir>/secret`, created at first
 * start with 48 random bytes and mode 0600.
 */
export function loadOrCreateSecret(dataDir: string, fromEnv?: string): { secret: string; created: boolean } {
  if (fromEnv !== undefined) return { secret: checkSecret(fromEnv, 'PLAZA_SECRET'), created: false };
  const file = path.join(dataDir, 'secret');
  if (!existsSync(file)) {
    writeFileSync(file, `${randomBytes(48).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return { secret: checkSecret(readFileSync(file, 'utf8'), file), created: true };
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(file, 0o600);
  return { secret: checkSecret(readFileSync(file, 'utf8'), file), created: false };
}
