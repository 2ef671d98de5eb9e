import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { buildCore, type Core } from '../../app.js';
import type { Config } from '../../config.js';
import { loadOrCreateSecret } from '../../ops/secret.js';
import { readSecretInput } from '../prompt.js';

export interface PasswordSource {
  password?: string;
  passwordStdin?: boolean;
}

/** Runs `fn` on the full core of this data dir (migrated; an interrupted restore finished first). */
export async function withCore<T>(config: Readonly<Config>, fn: (core: Core) => Promise<T>): Promise<T> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { secret } = loadOrCreateSecret(config.dataDir, config.secret);
  const core = await buildCore(config, { secret });
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

/** A password from --password, stdin, an interactive prompt, or (with none) a generated one. */
async function choosePassword(src: PasswordSource): Promise<{ password: string; generated: boolean }> {
  if (src.password !== undefined) return { password: src.password, generated: false };
  if (src.passwordStdin || process.stdin.isTTY) {
    const password = await readSecretInput('New password: ', src.passwordStdin === true);
    return { password, generated: false };
  }
  return { password: randomBytes(18).toString('base64url'), generated: true };
}

export async function adminCreate(
  config: Readonly<Config>,
  opts: PasswordSource & { username: string; email?: string },
  out: (line: string) => void,
): Promise<void> {
  const { password, generated } = await choosePassword(opts);
  await withCore(config, async (core) => {
    const user = await core.accounts.createUser(
      { username: opts.username, password, ...(opts.email ? { email: opts.email } : {}) },
      'admin',
    );
    out(`Created admin "${user.username}" (id ${user.id}).`);
    if (generated) out(`Generated password (shown once): ${password}`);
  });
}

export async function adminSetRole(
  config: Readonly<Config>,
  username: string,
  role: 'admin' | 'user',
  out: (l: string) => void,
) {
  await withCore(config, async (core) => {
    const user = await core.users.setRole(username, role);
    out(`"${user.username}" is now ${user.role}.`);
  });
}

export async function adminResetPassword(
  config: Readonly<Config>,
  username: string,
  opts: PasswordSource,
  out: (line: string) => void,
): Promise<void> {
  const { password, generated } = await choosePassword(opts);
  await withCore(config, async (core) => {
    const user = await core.users.resetPassword(username, password);
    out(`Password of "${user.username}" was reset; all of their sessions and access keys were ended.`);
    if (generated) out(`Generated password (shown once): ${password}`);
  });
}

export async function migrateCommand(config: Readonly<Config>, out: (line: string) => void): Promise<void> {
  await withCore(config, async (core) => {
    out(`Database is up to date (${core.database.dialect}).`);
  });
}
