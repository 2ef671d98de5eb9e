import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fsyncPath } from '../shared/durable.js';

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

/** Temp files the secret is written through, beside it (same filesystem, so linking is atomic). */
const TEMP_NAME = /^\.secret-[0-9a-f]{12}\.tmp$/;
/** A temp file this old was left by an interrupted write; a younger one may be another process's. */
const STALE_TEMP_MS = 60_000;

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

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function removeStaleTemps(dataDir: string, now: number): void {
  for (const name of readdirSync(dataDir)) {
    if (!TEMP_NAME.test(name)) continue;
    const temp = path.join(dataDir, name);
    try {
      if (now - statSync(temp).mtimeMs > STALE_TEMP_MS) rmSync(temp, { force: true });
    } catch {}
  }
}

/**
 * Writes a new secret so that `file` never holds a partial one, even across a power cut: a temp
 * file, fsynced, then linked to the final name (a link, unlike a rename, fails if the name exists:
 * two processes starting at once on one data dir agree on the first one's secret) and the
 * directory fsynced. `replace` renames over an existing (empty) file instead.
 */
function writeSecret(dataDir: string, file: string, replace: boolean): { secret: string; created: boolean } {
  const secret = randomBytes(48).toString('base64url');
  const temp = path.join(dataDir, `.secret-${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fsyncPath(temp);
    if (replace) {
      renameSync(temp, file);
    } else {
      try {
        linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        return { secret: checkSecret(readFileSync(file, 'utf8'), file), created: false };
      }
    }
  } finally {
    rmSync(temp, { force: true });
  }
  fsyncPath(dataDir);
  return { secret, created: true };
}

/**
 * Returns the server secret: PLAZA_SECRET if given, else `<dataDir>/secret`, created at first
 * start with 48 random bytes and mode 0600.
 *
 * The secret only derives the key that signs bearer access tokens (30 minutes by default);
 * nothing is encrypted with it, and refresh tokens and cookies are random values stored hashed.
 * So a blank secret file (what an interrupted first start of an older Plaza left) is replaced:
 * it was never accepted, so no token depends on it. Any other unusable file is refused, because
 * someone wrote it on purpose and may expect other instances to share it.
 */
export function loadOrCreateSecret(dataDir: string, fromEnv?: string): { secret: string; created: boolean } {
  if (fromEnv !== undefined) return { secret: checkSecret(fromEnv, 'PLAZA_SECRET'), created: false };
  const file = path.join(dataDir, 'secret');
  removeStaleTemps(dataDir, Date.now());
  const existing = readIfPresent(file);
  if (existing === undefined || existing.trim() === '') return writeSecret(dataDir, file, existing !== undefined);
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(file, 0o600);
  try {
    return { secret: checkSecret(existing, file), created: false };
  } catch (err) {
    if (!(err instanceof SecretError)) throw err;
    throw new SecretError(
      `${err.message}. Put at least ${MIN_SECRET_LENGTH} random characters there, or delete it to have a new one generated.`,
    );
  }
}
