import { describe, expect, it } from 'vitest';
import { formulaSafe } from './console-export.js';
import { checkMaskedQuery, MASK, maskerFor, maskText } from './masking.js';
import { inspectSql } from './sql-guard.js';

const read = (sql: string) => inspectSql(sql, { write: false, maxChars: 10_000 });
const write = (sql: string) => inspectSql(sql, { write: true, maxChars: 10_000 });
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string; message: string }).code === 'QUERY_REFUSED' ? (err as Error).message : `other: ${String(err)}`;
  }
  return 'accepted';
};

describe('inspectSql', () => {
  it('takes one statement, with a trailing semicolon, comments and quotes of every kind', () => {
    expect(read('select 1;').sql).toBe('select 1');
    expect(read("select 'a;b', \"c;d\", `e;f`, [g;h] -- ;x\n /* ; /* nested ; */ ; */").keyword).toBe('select');
    expect(read("select $$ a ; b $$, $tag$ ; $tag$").sql).toContain('$tag$');
    expect(read("select E'it\\'s ; fine'").keyword).toBe('select');
    expect(read("select 'it''s ; fine'").keyword).toBe('select');
    expect(read('  WITH x AS (select 1) SELECT * FROM x').keyword).toBe('with');
    expect(read('select $1').keyword).toBe('select');
  });

  it('refuses several statements, however they are hidden', () => {
    for (const sql of ['select 1; select 2', "select 'x'; delete from users", "select E'\\\\'; drop table users; --'", 'select $$x$$; drop table users', 'select 1 /* a */; /* b */ select 2']) {
      expect(refusal(() => read(sql)), sql).toMatch(/One statement at a time/);
    }
    expect(refusal(() => read("select 'unterminated"))).toMatch(/unterminated/);
    expect(refusal(() => read('select $$ unterminated'))).toMatch(/unterminated/);
    expect(refusal(() => read('select /* /* */'))).toMatch(/unterminated/);
  });

  it('refuses writes without the switch, and sessions, files and code in either mode', () => {
    expect(refusal(() => read('insert into x values (1)'))).toMatch(/read-only/);
    expect(write('insert into x values (1)').keyword).toBe('insert');
    expect(write('update users set role = 1').keyword).toBe('update');
    expect(write('create unique index if not exists i on t (a)').keyword).toBe('create');
    expect(write('create or replace view v as select 1').keyword).toBe('create');
    for (const sql of ['begin', 'commit', 'set role x', 'reset all', 'do $$ begin end $$', 'call p()', 'grant all on t to x', 'listen x', 'load_extension', 'vacuum', 'pragma user_version', 'detach x', "copy t from '/etc/passwd'"]) {
      expect(refusal(() => write(sql)), sql).not.toBe('accepted');
    }
    for (const sql of ['create function f() returns int language sql as $$select 1$$', 'create extension dblink', 'create trigger t', 'alter system set x = 1', 'drop role x', 'create materialized view m as select 1']) {
      expect(refusal(() => write(sql)), sql).toMatch(/not allowed/);
    }
    for (const sql of ["select pg_read_file('/etc/passwd')", "select PG_LS_DIR('.')", "select lo_import('/etc/passwd')", "select * from dblink('x', 'y')", "select query_to_xml('select 1', true, true, '')", "select set_config('a', 'b', false)", 'select * from pg_catalog.pg_authid', "select 'pg_read_file' as quoted_name_counts_too", "select * from pragma_table_info('users') where 0 = load_extension('x')"]) {
      expect(refusal(() => read(sql)), sql).toMatch(/not allowed/);
    }
    // Words that only look alike are fine.
    expect(read("select * from pragma_table_info('users')").keyword).toBe('select');
    expect(read('select role, "release", copy_count from t').keyword).toBe('select');
  });

  it('refuses NUL, empty and over-long SQL', () => {
    expect(refusal(() => read('select 1\u0000'))).toMatch(/NUL/);
    expect(refusal(() => read(' ; -- nothing'))).toMatch(/no SQL/);
    expect(refusal(() => inspectSql('select 1', { write: false, maxChars: 5 }))).toMatch(/at most 5/);
  });
});

describe('masking', () => {
  it('masks hash columns by name, argon2 anywhere, 64-hex runs when a token table is used', () => {
    const hex = 'a'.repeat(64);
    const m = maskerFor(['id', 'PASSWORD_HASH', 'note'], ['select', 'from', 'sessions']);
    expect(m.row([1, '$argon2id$v=19$m=7168,t=5,p=1$abc$def', `token ${hex} end`])).toEqual([1, MASK, `token ${MASK} end`]);
    const plain = maskerFor(['t'], ['select', 'from', 'files']);
    expect(plain.row([`(1,boss,$argon2id$v=19$m=1$x$y,admin) ${hex}`])).toEqual([`(1,boss,${MASK},admin) ${hex}`]);
    expect(maskerFor(['token_hash'], []).row([null])).toEqual([null]);
    expect(() => checkMaskedQuery(['select', 'key_hash', 'from', 'access_keys'])).toThrow(/masked/);
    expect(() => checkMaskedQuery(['select', 'id', 'from', 'users'])).not.toThrow();
    expect(maskText(`select * from sessions where id = '${hex}' or x = '$argon2id$v=19$m=1$a$b'`)).toBe(`select * from sessions where id = '${MASK}' or x = '${MASK}'`);
  });
});

describe('CSV cells', () => {
  it('neutralises what a spreadsheet would run as a formula, and nothing else', () => {
    expect(['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx'].map(formulaSafe)).toEqual(["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx"]);
    expect([-1, 'a=b', null, true, ''].map(formulaSafe)).toEqual([-1, 'a=b', null, true, '']);
  });
});
