import { EXIT } from '../exit-codes.js';
import { ClientError, exitForServerError, hintFor, notLoggedIn } from './errors.js';
import { type HttpInit, type HttpReply, httpSend } from './http.js';
import { type Profile, readProfile, writeProfile } from './profile.js';
import { unreachable } from './network-errors.js';

/** The server's token reply (POST /api/auth/login and /api/auth/refresh). */
export interface TokenPair {
  user: { id: number; username: string; role: string };
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  refreshTokenExpiresAt: number;
}

export interface RequestOptions {
  body?: unknown;
  /** Send the bearer token (renewed on demand). Default true. */
  auth?: boolean;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
}

/** A token this close to its expiry is renewed before use. */
const EXPIRY_MARGIN_MS = 30_000;

/** Checks and normalises a server URL: http(s), no trailing slash. */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClientError('USAGE', `"${raw}" is not a server URL (expected e.g. http://localhost:8080).`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ClientError('USAGE', `"${raw}" is not an http:// or https:// URL.`, EXIT.usage);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * The one typed client every command uses: JSON requests, the server's `{"error":{code,message}}`
 * turned into a ClientError with a stable exit code, and the bearer token renewed transparently
 * from the profile's refresh token (rotated and saved atomically each time).
 */
export class ApiClient {
  constructor(
    readonly server: string,
    readonly profileFile: string,
    private profile: Profile | undefined,
  ) {}

  /** The server (flag, then PLAZA_SERVER, then the profile's) and the profile when it is for that server. */
  static async open(profileFile: string, serverFlag?: string, envServer?: string): Promise<ApiClient> {
    const saved = await readProfile(profileFile);
    const chosen = serverFlag ?? envServer ?? saved?.server;
    if (!chosen) {
      throw new ClientError('NO_SERVER', 'No server given: pass --server URL, set PLAZA_SERVER, or log in once with `plaza login --server URL`.', EXIT.usage);
    }
    const server = serverUrl(chosen);
    return new ApiClient(server, profileFile, saved && serverUrl(saved.server) === server ? saved : undefined);
  }

  get loggedIn(): Profile | undefined {
    return this.profile;
  }

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.href;
  }

  /** One request, with network failures turned into "cannot reach the server". */
  async send(url: string, init: HttpInit): Promise<HttpReply> {
    try {
      return await httpSend(url, init);
    } catch (err) {
      throw unreachable(this.server, err);
    }
  }

  /** A JSON request; a 401 with a saved token renews it once and retries. */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.authorized(this.url(path, o.query), () => ({
      method,
      headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    }), o.auth ?? true);
    return (await this.json(res)) as T;
  }

  /** Any request with the bearer token; `init` is called again for the retry after a renewal. */
  async authorized(url: string, init: () => HttpInit, auth = true): Promise<HttpReply> {
    if (!auth) return this.send(url, init());
    const attempt = async (token: string) => {
      const i = init();
      return this.send(url, { ...i, headers: { ...i.headers, authorization: `Bearer ${token}` } });
    };
    const res = await attempt(await this.accessToken());
    if (res.status !== 401) return res;
    res.discard();
    return attempt(await this.renew());
  }

  /** The reply's JSON, or its error as a ClientError. */
  async json(res: HttpReply): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ClientError(
        'NOT_PLAZA',
        `${this.server} answered HTTP ${res.status} with something that is not Plaza's JSON. Check the server URL.`,
        EXIT.unreachable,
      );
    }
    if (!res.ok) throw this.failure(res.status, body);
    return body;
  }

  failure(status: number, body: unknown): ClientError {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof e?.code === 'string' ? e.code : `HTTP_${status}`;
    const message = typeof e?.message === 'string' ? e.message : `the server answered HTTP ${status}`;
    const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
    return new ClientError(code, `${sentence}${hintFor(code, status)}`, exitForServerError(code, status));
  }

  /** A valid access token: the saved one while it lasts, else a renewed one. */
  async accessToken(): Promise<string> {
    const p = this.profile;
    if (!p) throw notLoggedIn(this.server);
    if (p.accessToken && (p.accessTokenExpiresAt ?? 0) > Date.now() + EXPIRY_MARGIN_MS) return p.accessToken;
    return this.renew();
  }

  /** Exchanges the refresh token for new tokens and saves the rotated refresh token. */
  async renew(): Promise<string> {
    // Another plaza process may have rotated the token since this one started: use its result.
    const latest = (await readProfile(this.profileFile)) ?? this.profile;
    if (!latest || serverUrl(latest.server) !== this.server) throw notLoggedIn(this.server);
    if (latest.accessToken !== this.profile?.accessToken && (latest.accessTokenExpiresAt ?? 0) > Date.now() + EXPIRY_MARGIN_MS) {
      this.profile = latest;
      return latest.accessToken as string;
    }
    const res = await this.send(this.url('/api/auth/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: latest.refreshToken }),
    });
    if (res.status === 401 || res.status === 400) {
      res.discard();
      throw new ClientError('SESSION_EXPIRED', `Your session on ${this.server} has expired or was revoked. Log in again with \`plaza login\`.`, EXIT.auth);
    }
    const t = (await this.json(res)) as TokenPair;
    await this.save(t);
    return t.accessToken;
  }

  /** Saves a login's or renewal's tokens as the profile (atomically, mode 0600). */
  async save(t: TokenPair): Promise<Profile> {
    const profile: Profile = {
      server: this.server,
      username: t.user.username,
      userId: t.user.id,
      refreshToken: t.refreshToken,
      refreshTokenExpiresAt: t.refreshTokenExpiresAt,
      accessToken: t.accessToken,
      accessTokenExpiresAt: t.accessTokenExpiresAt,
      // The same user's access key outlives a token renewal (it is bound to the user, not the session).
      ...(this.profile?.userId === t.user.id && this.profile.accessKey
        ? { accessKey: this.profile.accessKey, accessKeyExpiresAt: this.profile.accessKeyExpiresAt }
        : {}),
    };
    await writeProfile(this.profileFile, profile);
    this.profile = profile;
    return profile;
  }

  /** Keeps (or, with undefined, drops) the access key in the profile. */
  async saveAccessKey(key: { key: string; expiresAt: number } | undefined): Promise<void> {
    const latest = (await readProfile(this.profileFile)) ?? this.profile;
    if (!latest) throw notLoggedIn(this.server);
    const profile: Profile = { ...latest, accessKey: key?.key, accessKeyExpiresAt: key?.expiresAt };
    await writeProfile(this.profileFile, profile);
    this.profile = profile;
  }

  forget(): void {
    this.profile = undefined;
  }
}
