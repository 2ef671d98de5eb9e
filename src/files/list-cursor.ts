import { AppError } from '../shared/errors.js';

export type ListSort = 'created_at' | 'original_name' | 'size';
export type ListOrder = 'asc' | 'desc';

/** Where the next page starts: the last row's sort value and id (keyset paging). */
export interface ListAfter {
  value: string | number;
  id: string;
}

interface CursorRow {
  id: string;
  created_at: number;
  original_name: string;
  size: number;
}

/**
 * The file list's `nextCursor`: opaque to clients (base64url of JSON), bound to the sort and order
 * it was made for, so a page costs a page however deep (an `offset` costs what it skips).
 */
export function encodeCursor(sort: ListSort, order: ListOrder, last: CursorRow): string {
  return Buffer.from(JSON.stringify([sort, order, last[sort], last.id])).toString('base64url');
}

export function decodeCursor(cursor: string, sort: ListSort, order: ListOrder): ListAfter {
  const bad = (why: string) => new AppError('VALIDATION_FAILED', `The cursor ${why}; start again from the first page`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('is not one this server made');
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw bad('is not one this server made');
  const [s, o, value, id] = parsed as unknown[];
  if (s !== sort || o !== order) throw bad(`was made for another order (${String(s)} ${String(o)})`);
  const valueOk = sort === 'original_name' ? typeof value === 'string' : Number.isSafeInteger(value);
  if (!valueOk || typeof id !== 'string' || id.length === 0 || id.length > 64) throw bad('is not one this server made');
  return { value: value as string | number, id };
}
