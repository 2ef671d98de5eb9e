import type { Generated } from 'kysely';

/** Row types. Times are milliseconds since the epoch; booleans are 0/1 on both databases. */

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  password_hash: string;
  role: 'admin' | 'user';
  disabled: number;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  /** 'cookie' for browser sessions, 'api' for bearer tokens renewed with a refresh token. */
  kind: 'cookie' | 'api';
  token_hash: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
  user_agent: string | null;
  ip: string | null;
}

export interface AccessKeysTable {
  id: string;
  user_id: number;
  key_hash: string;
  created_at: number;
  expires_at: number;
}

export interface SetupTokensTable {
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Tables {
  users: UsersTable;
  sessions: SessionsTable;
  access_keys: AccessKeysTable;
  setup_tokens: SetupTokensTable;
}
