import type { Category } from './categories.js';
import type { FileRow } from './files.repository.js';

/** A stored file as services and transports see it (row → `FileInfo`). */
export interface FileInfo {
  id: string;
  ownerId: number;
  name: string;
  storedName: string;
  category: Category;
  size: number;
  sha256: string;
  mime: string;
  createdAt: number;
  updatedAt: number;
}

export function toFileInfo(row: FileRow): FileInfo {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.original_name,
    storedName: row.stored_name,
    category: row.category,
    size: row.size,
    sha256: row.sha256,
    mime: row.mime,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
