import type { TokenPair } from '../client/api-client.js';
import { type ClientContext, usage } from '../client/context.js';
import { ClientError } from '../client/errors.js';
import { accessKey, untilText } from '../client/access-key.js';
import { removeProfile } from '../client/profile.js';
import { EXIT } from '../exit-codes.js';
import { readSecretInput } from '../prompt.js';

interface Me {
  user: { id: number; username: string; email: string | null; role: string };
  accessKey: { active: boolean; expiresAt: number | null };
}

/** The password from a no-echo prompt on a terminal, or stdin with --password-stdin; never an argument. */
async function password(passwordStdin: boolean | undefined, question = 'Password: '): Promise<string> {
  if (!passwordStdin && !process.stdin.isTTY) {
    throw usage('No terminal to ask for the password: pipe it in with --password-stdin.');
  }
  const p = await readSecretInput(question, passwordStdin === true);
  if (p === '') throw usage('The password is empty.');
  return p;
}

async function logIn(ctx: ClientContext, identifier: string, secret: string) {
  const t = await ctx.api.request<TokenPair>('POST', '/api/auth/login', { auth: false, body: { identifier, password: secret } });
  return ctx.api.save(t);
}

export async function registerCommand(ctx: ClientContext, username: string, o: { email?: string; passwordStdin?: boolean }) {
  const secret = await password(o.passwordStdin, 'Choose a password: ');
  const { user } = await ctx.api.request<Me>('POST', '/api/auth/register', {
    auth: false,
    body: { username, password: secret, ...(o.email ? { email: o.email } : {}) },
  });
  await logIn(ctx, user.username, secret);
  ctx.result({ user, server: ctx.api.server }, () => `Registered ${user.username} on ${ctx.api.server} and logged in.`);
}

export async function loginCommand(ctx: ClientContext, identifier: string, o: { passwordStdin?: boolean }) {
  const secret = await password(o.passwordStdin);
  const p = await logIn(ctx, identifier, secret);
  ctx.result({ user: { id: p.userId, username: p.username }, server: ctx.api.server }, () => `Logged in to ${ctx.api.server} as ${p.username}.`);
}

export async function logoutCommand(ctx: ClientContext) {
  const p = ctx.api.loggedIn;
  if (!p) {
    await removeProfile(ctx.api.profileFile);
    ctx.result({ ok: true, revoked: false }, () => 'Not logged in; nothing to do.');
    return;
  }
  let revoked = true;
  try {
    await ctx.api.request('POST', '/api/auth/logout');
  } catch (err) {
    // An expired or revoked session is already over on the server; anything else is reported after forgetting.
    if (!(err instanceof ClientError && err.exit === EXIT.auth)) {
      await removeProfile(ctx.api.profileFile);
      throw new ClientError((err as ClientError).code ?? 'FAILED', `Forgot the login here, but the server could not end the session: ${(err as Error).message}`, (err as ClientError).exit ?? EXIT.failure);
    }
    revoked = false;
  }
  await removeProfile(ctx.api.profileFile);
  ctx.api.forget();
  ctx.result({ ok: true, revoked }, () => `Logged out of ${ctx.api.server}.`);
}

export async function whoamiCommand(ctx: ClientContext) {
  const me = await ctx.api.request<Me>('GET', '/api/auth/me');
  ctx.result({ user: me.user, server: ctx.api.server, accessKey: me.accessKey }, () => [
    `${me.user.username}${me.user.role === 'admin' ? ' (admin)' : ''} on ${ctx.api.server}`,
    ...(me.accessKey.active && me.accessKey.expiresAt ? [`elevated until ${untilText(me.accessKey.expiresAt)}`] : []),
  ]);
}

export async function privilegeCommand(ctx: ClientContext) {
  // Always asked for: a key still valid is the server's 409, "already elevated until …".
  const k = await accessKey(ctx.api, { fresh: true });
  ctx.result({ elevated: true, expiresAt: k.expiresAt }, () => `Elevated: your access key is valid until ${untilText(k.expiresAt)}.`);
}
