/** A small fetch wrapper for the native API: JSON in, status + JSON out. */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function api<T = any>(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; token?: string; cookie?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const res = await fetch(base + path, {
    method,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
    redirect: 'manual',
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

export const PASSWORD = 'correct-horse-9';

/** Registers a user and logs in with a bearer token. */
export async function registerAndLogin(base: string, username: string, password = PASSWORD, email?: string) {
  const reg = await api(base, 'POST', '/api/auth/register', {
    json: { username, password, ...(email ? { email } : {}) },
  });
  if (reg.status !== 201) throw new Error(`register ${username}: ${reg.status} ${reg.text}`);
  const login = await api(base, 'POST', '/api/auth/login', { json: { identifier: username, password } });
  if (login.status !== 200) throw new Error(`login ${username}: ${login.status} ${login.text}`);
  return login.body as {
    accessToken: string;
    refreshToken: string;
    user: { id: number; username: string; role: string };
  };
}

/** The name=value of a Set-Cookie header for `name`. */
export function cookieFrom(headers: Headers, name: string): string | undefined {
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    if (pair?.startsWith(`${name}=`)) return pair;
  }
  return undefined;
}
