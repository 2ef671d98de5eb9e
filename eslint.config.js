// Lint rules. Beyond the recommended sets, the layering of docs/ARCHITECTURE.md ("Who imports
// whom") is enforced: services, repositories, db/ and shared/ never import Fastify or ws; only
// repositories and db/ touch SQL drivers or build queries; and no file but src/server.ts imports a
// front door's routes or socket file (`*.routes.ts`, `*.socket.ts`, compat/routes.ts), so shared
// helpers live below the transports (http/session-cookie.ts, files/upload-intake.ts, ...). Sizes are
// bounded too: 120 lines a function, 350 a file (blank lines and comments not counted).
// In flat config the last block matching a file sets a rule, so each block lists all that applies.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noTransport = {
  paths: [
    { name: 'fastify', message: 'Only transports (http/, compat/, *.routes.ts, cli/) import Fastify.' },
    { name: 'ws', message: 'Only transports import ws.' },
  ],
  patterns: [{ group: ['@fastify/*'], message: 'Only transports import Fastify plugins.' }],
};
const noSql = {
  paths: [
    { name: 'kysely', message: 'SQL lives in repositories and db/ only.' },
    { name: 'better-sqlite3', message: 'SQL lives in repositories and db/ only.' },
    { name: 'pg', message: 'SQL lives in repositories and db/ only.' },
  ],
};
/** A routes or socket file: `x.routes.js`, `x.socket.js`, `./routes.js`. `allowed`: one import a file may still make. */
const frontDoor = (allowed) => ({
  regex: `^${allowed ? `(?!${allowed.replaceAll('.', '\\.')}$)` : ''}.*[./](routes|socket)(\\.[jt]s)?$`,
  message: 'Only src/server.ts imports routes and socket files: move what is shared below the transports (http/, a feature\'s own module).',
});
const noFrontDoors = { patterns: [frontDoor()] };

/** Several option sets for one no-restricted-imports rule. */
const restrict = (...sets) => [
  'error',
  { paths: sets.flatMap((s) => s.paths ?? []), patterns: sets.flatMap((s) => s.patterns ?? []) },
];

/** Kysely's query builders and its `sql` template: a database handle reaches services too (`database.db`). */
const QUERY_BUILDERS = 'selectFrom|selectNoFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto';
const noQueries = [
  {
    selector: `CallExpression[callee.type='MemberExpression'][callee.property.name=/^(${QUERY_BUILDERS})$/]`,
    message: 'SQL lives in repositories (*.repository.ts, db/): call a repository function.',
  },
  {
    selector: "TaggedTemplateExpression[tag.name='sql'], CallExpression[callee.object.name='sql']",
    message: 'SQL lives in repositories (*.repository.ts, db/): call a repository function.',
  },
];

const transports = [
  'src/**/*.routes.ts', 'src/**/*.socket.ts', 'src/chat/native-socket/**', 'src/chat/rest/**', 'src/http/**', 'src/compat/**', 'src/cli/**',
  // A feature's helpers for its transports (WebSocket close codes and heartbeats, HTTP downloads and upload intake).
  'src/chat/close-codes.ts', 'src/chat/heartbeat.ts', 'src/files/downloads.ts', 'src/files/upload-intake.ts',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', crypto: 'readonly', TextEncoder: 'readonly', FormData: 'readonly', Blob: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': restrict(noFrontDoors) },
  },
  {
    files: ['src/**/*.repository.ts', 'src/db/**', 'src/shared/**'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': restrict(noTransport, noFrontDoors) },
  },
  // A feature folder's own modules (services and their parts: hub, message engine, rooms, tokens, ...).
  {
    files: ['src/**/*.service.ts', 'src/accounts/**', 'src/files/**', 'src/chat/**', 'src/cluster/**'],
    ignores: ['**/*.test.ts', '**/*.repository.ts', ...transports],
    rules: { 'no-restricted-imports': restrict(noTransport, noSql, noFrontDoors) },
  },
  {
    files: transports,
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': restrict(noSql, noFrontDoors) },
  },
  // The browser app shares only types with the server: a runtime import of src/ would bundle server code.
  {
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/src/**'], allowTypeImports: true, message: 'web/ imports only types from src/ (import type).' }] },
      ],
    },
  },
  // The one assembly of every front door.
  {
    files: ['src/server.ts'],
    rules: { 'no-restricted-imports': restrict(noSql) },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.repository.ts', 'src/db/**', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', ...noQueries] },
  },
  // Small parts: a function fits on a screen or two, a file holds one responsibility.
  {
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'max-lines': ['error', { max: 350, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
);
