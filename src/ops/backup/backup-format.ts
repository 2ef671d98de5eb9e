import path from 'node:path';
import { isStoredName } from '../../files/names.js';

/**
 * What a Plaza backup archive holds (a plain tar, streamed):
 *   db/<table>.jsonl        one JSON object per row, in primary-key order (a logical export:
 *                           portable between SQLite and PostgreSQL)
 *   files/<category>/<name> every uploaded file the database snapshot lists
 *   manifest.json           last: format and versions, row counts, size and SHA-256 of every entry
 */
export const FORMAT_VERSION = 1;

export const MANIFEST = 'manifest.json';

/**
 * Plaza's tables in the order rows can be inserted (parents first), each with its primary key
 * (the export's page order). Deletes go in the reverse order. `restores` is restore bookkeeping and
 * never travels in an archive; neither does `audit_log`: a restore must not rewrite the trail of
 * what happened (it keeps the current entries and adds its own), so a move to another machine
 * starts a new trail. Saved console queries (`console_queries`) are an admin's data and travel.
 */
export const TABLES = [
  { name: 'users', key: ['id'], identity: true },
  { name: 'console_queries', key: ['id'] },
  { name: 'setup_tokens', key: ['token_hash'] },
  { name: 'sessions', key: ['id'] },
  { name: 'rotated_refresh_tokens', key: ['token_hash'] },
  { name: 'access_keys', key: ['id'] },
  { name: 'files', key: ['id'] },
  { name: 'share_links', key: ['id'] },
  { name: 'chat_rooms', key: ['id'], identity: true },
  { name: 'chat_members', key: ['room_id', 'user_id'] },
  { name: 'chat_invites', key: ['room_id', 'user_id'] },
  { name: 'chat_messages', key: ['id'] },
] as const satisfies ReadonlyArray<{ name: string; key: readonly string[]; identity?: boolean }>;

export type TableName = (typeof TABLES)[number]['name'];
export const TABLE_NAMES: readonly string[] = TABLES.map((t) => t.name);

export const CATEGORIES = ['images', 'documents', 'files'] as const;

export interface ManifestEntry {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: 'plaza-backup';
  formatVersion: number;
  plazaVersion: string;
  createdAt: string;
  /** The database the snapshot was taken from. */
  dialect: 'sqlite' | 'postgres';
  /** Applied migrations, oldest first; the last one is the schema version. */
  migrations: string[];
  schemaVersion: string;
  rowCounts: Record<string, number>;
  fileCount: number;
  fileBytes: number;
  /** Listed files whose bytes were gone from storage when the backup ran. */
  missing?: string[];
  entries: ManifestEntry[];
}

/** `plaza-backup-20261204T184830123Z.tar`, optionally with a label (`-pre-restore`). */
const ARCHIVE_NAME = /^plaza-backup-(\d{8}T\d{9}Z)(-[a-z0-9-]{1,32})?\.tar$/;

export function archiveName(at: Date, label?: string): string {
  const stamp = at.toISOString().replace(/[-:.]/g, '');
  return `plaza-backup-${stamp}${label ? `-${label}` : ''}.tar`;
}

/** Whether `name` is an archive name Plaza writes (never a path: no `/`, `..`, NUL…). */
export function isArchiveName(name: string): boolean {
  return ARCHIVE_NAME.test(name);
}

/** The UTC time in an archive's name. */
export function archiveDate(name: string): Date | undefined {
  const m = ARCHIVE_NAME.exec(name)?.[1];
  if (!m) return undefined;
  const iso = `${m.slice(0, 4)}-${m.slice(4, 6)}-${m.slice(6, 8)}T${m.slice(9, 11)}:${m.slice(11, 13)}:${m.slice(13, 15)}.${m.slice(15, 18)}Z`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export type EntryKind =
  | { kind: 'manifest' }
  | { kind: 'table'; table: TableName }
  | { kind: 'file'; category: (typeof CATEGORIES)[number]; storedName: string };

/**
 * What an entry name means, or undefined for anything Plaza never writes: `../x`, absolute paths,
 * backslashes, NUL, unknown tables or folders. Restores write only where this says.
 */
export function parseEntryName(name: string): EntryKind | undefined {
  if (name === MANIFEST) return { kind: 'manifest' };
  if (name.includes('\0') || name.includes('\\') || path.posix.normalize(name) !== name) return undefined;
  const parts = name.split('/');
  if (parts.length === 2 && parts[0] === 'db') {
    const table = parts[1]?.replace(/\.jsonl$/, '');
    if (parts[1]?.endsWith('.jsonl') && table && TABLE_NAMES.includes(table)) return { kind: 'table', table: table as TableName };
    return undefined;
  }
  if (parts.length === 3 && parts[0] === 'files') {
    const category = CATEGORIES.find((c) => c === parts[1]);
    const storedName = parts[2] ?? '';
    if (category && isStoredName(storedName)) return { kind: 'file', category, storedName };
  }
  return undefined;
}

export const tableEntry = (table: string) => `db/${table}.jsonl`;
export const fileEntry = (category: string, storedName: string) => `files/${category}/${storedName}`;
