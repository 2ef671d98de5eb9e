import { AppError } from '../../shared/errors.js';

/**
 * What the database console refuses before any SQL reaches a database. The databases enforce the
 * real boundary (a read-only connection with query_only on SQLite, a READ ONLY transaction on
 * PostgreSQL, one statement per prepared query on both); this list adds what read-only does not
 * stop: reading files, loading code, attaching other databases, changing the session, and a few
 * functions that run SQL from a string (so a name hidden in a string literal counts too).
 */

export interface InspectedSql {
  /** The one statement, without its trailing semicolon. */
  sql: string;
  /** Its first keyword, lower case (`select`, `with`, `insert`…). */
  keyword: string;
  /** Words outside strings and comments, lower case (quoted identifiers included, unquoted). */
  words: string[];
}

/** Statements the read-only console runs. */
const READ_KEYWORDS = new Set(['select', 'with', 'values', 'table', 'explain', 'show']);
/** ...and what the write switch adds (DDL only on tables, indexes and views: see DDL_OBJECTS). */
const WRITE_KEYWORDS = new Set(['insert', 'update', 'delete', 'replace', 'create', 'drop', 'alter', 'truncate']);
const DDL_OBJECTS = new Set(['table', 'index', 'unique', 'view', 'temp', 'temporary']);

/**
 * Words refused anywhere outside strings, in either mode: other database files, schema tricks and
 * file output (every other statement is already refused by its first keyword).
 */
const FORBIDDEN_WORDS = new Set(['attach', 'detach', 'pragma', 'vacuum', 'copy', 'load_extension']);

/**
 * Function and catalog names refused anywhere in the text, strings included: they read or write
 * the server's files, load code, reach other servers, stop backends, hold locks, or run SQL
 * given as a string (query_to_xml('…')) where the checks above cannot see it.
 */
const FORBIDDEN_NAMES = [
  'load_extension', 'readfile', 'writefile', 'fts3_tokenizer', 'pg_read_file', 'pg_read_binary_file', 'pg_ls_',
  'pg_stat_file', 'pg_file_', 'lo_import', 'lo_export', 'lo_get', 'lo_put', 'lo_from_bytea', 'lo_create',
  'lo_unlink', 'lo_open', 'loread', 'lowrite', 'dblink', 'postgres_fdw', 'query_to_xml', 'table_to_xml',
  'cursor_to_xml', 'schema_to_xml', 'database_to_xml', 'pg_terminate_backend', 'pg_cancel_backend',
  'pg_reload_conf', 'pg_rotate_logfile', 'pg_promote', 'pg_switch_wal', 'pg_create_restore_point',
  'pg_backup_start', 'pg_backup_stop', 'set_config', 'pg_advisory', 'pg_try_advisory', 'pg_authid',
  'pg_shadow', 'pg_user_mapping', 'pg_logical_emit_message', 'pg_replication_', 'pg_import_system_collations',
  'ts_stat',
];

const refuse = (why: string) => new AppError('QUERY_REFUSED', why);

interface Scan {
  statements: string[];
  words: string[];
}

/** Skips a quoted run starting at `i` (the quote char), returning the index after it. */
function skipQuoted(text: string, i: number, close: string, backslashes: boolean): number {
  let j = i + 1;
  for (;;) {
    if (j >= text.length) throw refuse('The SQL has an unterminated quote or identifier');
    const c = text[j];
    if (backslashes && c === '\\') j += 2;
    else if (c === close && text[j + 1] === close && close !== ']') j += 2;
    else if (c === close) return j + 1;
    else j += 1;
  }
}

/** Statements (split at top-level semicolons) and words, with strings and comments skipped. */
function scan(text: string): Scan {
  const statements: string[] = [];
  const words: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && next === '*') {
      // PostgreSQL nests block comments; SQLite does not. Either way one unterminated is refused.
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= text.length) throw refuse('The SQL has an unterminated comment');
        const step = text.startsWith('/*', j) ? 1 : text.startsWith('*/', j) ? -1 : 0;
        depth += step;
        j += step === 0 ? 1 : 2;
      }
      i = j;
    } else if (c === "'") {
      const escaped = /[eE]/.test(text[i - 1] ?? '') && !/[\w$]/.test(text[i - 2] ?? '');
      i = skipQuoted(text, i, "'", escaped);
    } else if (c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      const end = skipQuoted(text, i, close, false);
      words.push(text.slice(i + 1, end - 1).toLowerCase());
      i = end;
    } else if (c === '$' && /^\$([A-Za-z_][\w]*)?\$/.test(text.slice(i, i + 66)) && !/[\w]/.test(text[i - 1] ?? '')) {
      const tag = (/^\$([A-Za-z_][\w]*)?\$/.exec(text.slice(i, i + 66)) as RegExpExecArray)[0];
      const end = text.indexOf(tag, i + tag.length);
      if (end === -1) throw refuse('The SQL has an unterminated dollar-quoted string');
      i = end + tag.length;
    } else if (c === ';') {
      statements.push(text.slice(start, i));
      start = i + 1;
      i += 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w$]*/.exec(text.slice(i, i + 200)) as RegExpExecArray;
      words.push(m[0].toLowerCase());
      i += m[0].length;
    } else {
      i += 1;
    }
  }
  statements.push(text.slice(start));
  return { statements: statements.filter((s) => s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim() !== ''), words };
}

/**
 * The one statement the console may run, or QUERY_REFUSED with the reason. `write`: the admin
 * turned the write switch on (and presented a valid access key).
 */
export function inspectSql(text: string, opts: { write: boolean; maxChars: number }): InspectedSql {
  if (text.length > opts.maxChars) throw refuse(`The SQL is ${text.length} characters; at most ${opts.maxChars} are allowed (PLAZA_CONSOLE_MAX_SQL_CHARS)`);
  if (text.includes('\0')) throw refuse('The SQL contains a NUL character');
  const { statements, words } = scan(text);
  if (statements.length === 0) throw refuse('There is no SQL to run');
  if (statements.length > 1) throw refuse('One statement at a time: the SQL holds several (separated by ";")');
  const keyword = words[0] ?? '';
  if (!READ_KEYWORDS.has(keyword) && !WRITE_KEYWORDS.has(keyword)) throw refuse(`"${keyword.toUpperCase() || text.trim().slice(0, 20)}" statements are not allowed in the console`);
  if (WRITE_KEYWORDS.has(keyword) && !opts.write) {
    throw refuse(`${keyword.toUpperCase()} writes: the console is read-only unless the write switch is on (with a valid access key)`);
  }
  if (['create', 'drop', 'alter'].includes(keyword)) {
    const object = words.find((w, k) => k > 0 && !['or', 'replace', 'if', 'not', 'exists'].includes(w)) ?? '';
    if (!DDL_OBJECTS.has(object)) throw refuse(`${keyword.toUpperCase()} ${object.toUpperCase()} is not allowed in the console (tables, indexes and views only)`);
  }
  const word = words.find((w) => FORBIDDEN_WORDS.has(w));
  if (word) throw refuse(`"${word.toUpperCase()}" is not allowed in the console`);
  const lower = text.toLowerCase();
  const name = FORBIDDEN_NAMES.find((n) => lower.includes(n));
  if (name) throw refuse(`"${name}" is not allowed in the console (it reaches files, code, other servers or the session)`);
  const sql = (statements[0] as string).trim();
  return { sql, keyword, words };
}

/** Statements whose rows a PostgreSQL cursor can page through (read mode). */
export const CURSOR_KEYWORDS = new Set(['select', 'with', 'values', 'table']);
