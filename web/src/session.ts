import { signal } from '@preact/signals';
import { api, toLogin } from './api.js';
import { disconnect } from './chat-socket.js';
import type { Me } from './types.js';

/** Who is signed in; the app renders nothing else until this is known. */
export const session = signal<Me | null>(null);

export async function loadSession(): Promise<Me> {
  const me = await api<Me>('GET', '/api/auth/me', undefined, { allow401: true }).catch((err: unknown) => {
    if (err instanceof Error && 'status' in err && err.status === 401) toLogin();
    throw err;
  });
  session.value = me;
  return me;
}

export async function logout(): Promise<void> {
  disconnect();
  try {
    await api('POST', '/api/auth/logout', undefined, { allow401: true });
  } finally {
    session.value = null;
    location.assign('/login');
  }
}
