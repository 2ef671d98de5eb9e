import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { EXIT } from '../exit-codes.js';
import { writeFileAtomic } from './atomic-file.js';
import { ClientError } from './errors.js';

/** What `plaza login` saves: never the password; the refresh token rotates on every renewal. */
export interface Profile {
  server: string;
  username: string;
  userId: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
  /** The last access token, kept so each command does not rotate the refresh token. */
  accessToken?: string | undefined;
  accessTokenExpiresAt?: number | undefined;
  /** Seed 000's access key (`plaza privilege`, or asked for by `images get`), valid one hour. */
  accessKey?: string | undefined;
  accessKeyExpiresAt?: number | undefined;
}

/** `profile.json`, or `profile-NAME.json` for `--profile NAME` (one per server or account). */
export function profilePath(configDir: string, name?: string): string {
  if (name === undefined || name === 'default') return path.join(configDir, 'profile.json');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name.startsWith('.')) {
    throw new ClientError('USAGE', `"${name}" is not a profile name (letters, digits, _ . -).`, EXIT.usage);
  }
  return path.join(configDir, `profile-${name}.json`);
}

const isProfile = (v: unknown): v is Profile => {
  const p = v as Partial<Profile> | null;
  return (
    typeof p === 'object' && p !== null && typeof p.server === 'string' && typeof p.username === 'string' &&
    typeof p.userId === 'number' && typeof p.refreshToken === 'string' && typeof p.refreshTokenExpiresAt === 'number'
  );
};

/** The saved profile, or undefined when there is none. A loose or broken file is refused with the fix. */
export async function readProfile(file: string): Promise<Profile | undefined> {
  let text: string;
  try {
    const s = await stat(file);
    if ((s.mode & 0o077) !== 0) {
      throw new ClientError(
        'PROFILE_PERMISSIONS',
        `${file} is readable by other users (mode ${(s.mode & 0o777).toString(8)}). Fix it with \`chmod 600 ${file}\`, or log in again.`,
        EXIT.config,
      );
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!isProfile(parsed)) {
    throw new ClientError('PROFILE_CORRUPT', `${file} is not a valid profile. Remove it (\`plaza logout\`) and log in again.`, EXIT.config);
  }
  return parsed;
}

export async function writeProfile(file: string, profile: Profile): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(profile, null, 2)}\n`, 0o600);
}

export async function removeProfile(file: string): Promise<void> {
  await rm(file, { force: true });
}
