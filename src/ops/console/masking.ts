import { AppError } from '../../shared/errors.js';

/**
 * What the database console hides unless an admin unmasks it with a valid access key: password
 * hashes and the hashes of sessions', refresh tokens', access keys', setup tokens' and share links'
 * tokens. (The server secret lives in a file, never in the database, and the console cannot read
 * files: see sql-guard.ts.) Layers, by table knowledge and column name:
 *   - a query that names a hash column is refused (an alias or an expression would carry it out);
 *   - a result column named like one (`select *`) shows `[masked]`;
 *   - any argon2 hash in any cell is masked (a whole row turned into text on PostgreSQL);
 *   - a query that touches a token table has every 64-hex-digit run masked in every cell.
 * A determined admin can still encode a value past these; the boundary is the admin role plus
 * the access key, the masking keeps hashes off screens and out of exports by default.
 */

export const MASK = '[masked]';

/** Columns holding a password hash or a token hash, by name (every table). */
export const SECRET_COLUMNS = new Set(['password_hash', 'token_hash', 'key_hash', 'replaced_by_hash']);

/** Tables whose rows carry token hashes (64 hex digits). */
export const TOKEN_TABLES = new Set(['sessions', 'rotated_refresh_tokens', 'access_keys', 'setup_tokens', 'share_links']);

const ARGON2 = /\$argon2(?:id|i|d)\$[^\s"',)}\]]*/g;
const HEX64 = /\b[0-9a-f]{64}\b/gi;

/** Refuses a masked query that names a hash column. */
export function checkMaskedQuery(words: readonly string[]): void {
  const named = words.find((w) => SECRET_COLUMNS.has(w));
  if (named) {
    throw new AppError('QUERY_REFUSED', `"${named}" is masked: unmask with a valid access key to query it`);
  }
}

export interface Masker {
  /** Masks one row in place (cells in column order). */
  row<T extends unknown[]>(cells: T): T;
}

/** The masker for a result with these columns, of a query using these words. */
export function maskerFor(columns: readonly string[], words: readonly string[]): Masker {
  const hidden = columns.map((c) => SECRET_COLUMNS.has(c.toLowerCase()));
  const hexToo = words.some((w) => TOKEN_TABLES.has(w));
  return {
    row(cells) {
      for (let i = 0; i < cells.length; i++) {
        const v = cells[i];
        if (hidden[i] && v !== null) cells[i] = MASK;
        else if (typeof v === 'string') {
          let s = v.includes('$argon2') ? v.replace(ARGON2, MASK) : v;
          if (hexToo && s.length >= 64) s = s.replace(HEX64, MASK);
          cells[i] = s;
        }
      }
      return cells;
    },
  };
}

/** Hashes an admin pasted into SQL (an argon2 hash, 64 hex digits) masked, for the audit log. */
export function maskText(text: string): string {
  return text.replace(ARGON2, MASK).replace(HEX64, MASK);
}

/** Nothing masked (an unmasked query). */
export const NO_MASK: Masker = { row: (cells) => cells };
