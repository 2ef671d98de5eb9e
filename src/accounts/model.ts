import type { UserRow } from './users.repository.js';

export type Role = 'admin' | 'user';

export interface User {
  id: number;
  username: string;
  email: string | null;
  role: Role;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** Who is making a request, and through which credential. */
export interface Principal {
  user: User;
  sessionId: string;
  via: 'cookie' | 'bearer' | 'connection';
}

export interface RequestContext {
  ip: string;
  userAgent?: string | undefined;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
