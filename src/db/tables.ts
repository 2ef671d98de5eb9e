import type { Generated } from 'kysely';

/** Row types. Times are milliseconds since the epoch; booleans are 0/1 on both databases. */

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  password_hash: string;
  role: 'admin' | 'user';
  disabled: number;
  /** Per-user storage quota in bytes; null = the server default. */
  quota_bytes: number | null;
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

/**
 * A refresh token its session has replaced; presenting it again revokes the session, unless it is
 * the one just replaced, presented again from the same client network within the grace.
 */
export interface RotatedRefreshTokensTable {
  token_hash: string;
  session_id: string;
  rotated_at: number;
  /** The token that replaced it (null in rows from before migration 0005). */
  replaced_by_hash: string | null;
  /** The address of the request that replaced it. */
  rotated_ip: string | null;
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
  rotated_refresh_tokens: RotatedRefreshTokensTable;
  access_keys: AccessKeysTable;
  setup_tokens: SetupTokensTable;
  files: FilesTable;
  file_totals: FileTotalsTable;
  share_links: ShareLinksTable;
  chat_rooms: ChatRoomsTable;
  chat_members: ChatMembersTable;
  chat_invites: ChatInvitesTable;
  chat_messages: ChatMessagesTable;
  restores: RestoresTable;
  audit_log: AuditLogTable;
  console_queries: ConsoleQueriesTable;
  cluster_identity: { id: string; created_at: number; uploads_marked_at: number | null };
}

export interface FilesTable {
  id: string;
  owner_id: number;
  original_name: string;
  stored_name: string;
  category: 'images' | 'documents' | 'files';
  size: number;
  sha256: string;
  mime: string;
  created_at: number;
  updated_at: number;
}

/** Per owner and category: how many files and bytes (kept with every insert and delete of `files`). */
export interface FileTotalsTable {
  owner_id: number;
  category: FilesTable['category'];
  file_count: number;
  byte_count: number;
}

export interface ShareLinksTable {
  id: string;
  file_id: string;
  owner_id: number;
  token_hash: string;
  created_at: number;
  expires_at: number;
  max_downloads: number | null;
  downloads: number;
  revoked_at: number | null;
}

export interface ChatRoomsTable {
  id: Generated<number>;
  name: string;
  kind: 'room' | 'dm';
  visibility: 'public' | 'private';
  created_by: number | null;
  created_at: number;
  last_seq: number;
}

export interface ChatMembersTable {
  room_id: number;
  user_id: number;
  role: 'admin' | 'member';
  joined_at: number;
  /** The highest sequence number the member has read (0010_read_cursors). */
  last_read_seq: Generated<number>;
}

export interface ChatInvitesTable {
  room_id: number;
  user_id: number;
  invited_by: number | null;
  created_at: number;
}

export interface ChatMessagesTable {
  id: string;
  room_id: number;
  seq: number;
  sender_id: number | null;
  sender_name: string;
  kind: 'text' | 'file' | 'system';
  body: string;
  file_id: string | null;
  client_id: string | null;
  created_at: number;
}

/** One row per restore, committed with the restored rows (ops/backup/restore-journal.ts). */
export interface RestoresTable {
  id: string;
  archive: string;
  restored_at: number;
}

/** One audited event (ops/audit/): actor kept by id and name, no foreign key. */
export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  action: string;
  outcome: 'success' | 'failure';
  actor_id: number | null;
  actor_name: string | null;
  ip: string | null;
  target: string | null;
  /** JSON object of the event's facts. */
  detail: string | null;
}

/** An admin's saved console query (ops/console/). */
export interface ConsoleQueriesTable {
  id: string;
  user_id: number;
  name: string;
  sql: string;
  /** JSON: `{ type, x, y }` chart settings, or null. */
  chart: string | null;
  created_at: number;
  updated_at: number;
}
