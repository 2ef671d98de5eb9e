import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';

/** A key this close to its expiry is not used: a new one is asked for. */
const KEY_MARGIN_MS = 30_000;

export interface AccessKey {
  key: string;
  expiresAt: number;
  /** Asked for just now (else it was the profile's). */
  issued: boolean;
}

export const untilText = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/**
 * Seed 000's access key (SPEC §3): the profile's while it lasts, else a new one from
 * `POST /api/auth/elevate`, saved in the profile (0600) for the hour it is valid. One issued to
 * another client (the web app, another machine) cannot be presented from here: that is said, with
 * its expiry, rather than guessed around.
 */
export async function accessKey(api: ApiClient, o: { fresh?: boolean } = {}): Promise<AccessKey> {
  const p = api.loggedIn;
  if (!o.fresh && p?.accessKey && (p.accessKeyExpiresAt ?? 0) > Date.now() + KEY_MARGIN_MS) {
    return { key: p.accessKey, expiresAt: p.accessKeyExpiresAt as number, issued: false };
  }
  try {
    const k = await api.request<{ key: string; expiresAt: number }>('POST', '/api/auth/elevate');
    await api.saveAccessKey(k);
    return { ...k, issued: true };
  } catch (err) {
    if (!(err instanceof ClientError && err.code === 'ACCESS_KEY_ACTIVE')) throw err;
    const me = await api.request<{ accessKey: { expiresAt: number | null } }>('GET', '/api/auth/me');
    const until = me.accessKey.expiresAt ? untilText(me.accessKey.expiresAt) : 'its expiry';
    // The active key is the one this profile holds (plaza privilege asked again): the seed's 409 as a sentence.
    if (p?.accessKey && p.accessKeyExpiresAt === me.accessKey.expiresAt) {
      throw new ClientError('ACCESS_KEY_ACTIVE', `Already elevated until ${until}.`, EXIT.conflict);
    }
    throw new ClientError(
      'ACCESS_KEY_ELSEWHERE',
      `Your account is already elevated until ${until}, but by another client (the web app or another machine): this one does not hold that key. Run the command again after ${until}.`,
      EXIT.conflict,
    );
  }
}
