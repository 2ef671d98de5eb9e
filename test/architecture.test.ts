// The map stays true: docs/ARCHITECTURE.md names every file under src/, test/, bench/, scripts/ and web/
// (tests beside the code, src/**/*.test.ts, excepted: each is named after what it covers).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const MAP = 'docs/ARCHITECTURE.md';
const SOURCE = /\.(ts|tsx|mjs|js|py)$/;

/** Repository-relative paths of the files the map must name. */
function filesToName(): string[] {
  const found: string[] = [];
  for (const top of ['src', 'test', 'bench', 'scripts', 'web']) {
    for (const entry of readdirSync(path.join(ROOT, top), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !SOURCE.test(entry.name)) continue;
      const file = path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (file.startsWith('src/') && file.endsWith('.test.ts')) continue;
      found.push(file);
    }
  }
  return found.sort();
}

/** `name` appears in the text on its own: not as the tail of a longer name (`db-errors.ts`). */
function mentions(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])${escaped}(?![\\w-])`).test(text);
}

/**
 * How a file may be named: its path (`src/db/errors.ts`), its path inside src/ (`db/errors.ts`),
 * or, when no other file shares it, just its file name (`wal-syncer.ts`).
 */
function namesOf(file: string, shared: Set<string>): string[] {
  const base = path.posix.basename(file);
  const names = [file];
  if (file.startsWith('src/')) names.push(file.slice('src/'.length));
  if (!shared.has(base)) names.push(base);
  return names;
}

describe('docs/ARCHITECTURE.md', () => {
  it('names every file under src/, test/, bench/, scripts/ and web/', () => {
    const map = readFileSync(path.join(ROOT, MAP), 'utf8');
    const files = filesToName();
    const counts = new Map<string, number>();
    for (const f of files) counts.set(path.posix.basename(f), (counts.get(path.posix.basename(f)) ?? 0) + 1);
    const shared = new Set([...counts].filter(([, n]) => n > 1).map(([base]) => base));
    const missing = files
      .filter((f) => !namesOf(f, shared).some((name) => mentions(map, name)))
      .map((f) => (shared.has(path.posix.basename(f)) ? `${f} (its file name is shared: write its folder too, e.g. ${namesOf(f, shared)[1] ?? f})` : f));
    expect(files.length).toBeGreaterThan(50);
    expect(missing, `${MAP} does not name these files; add each with its role`).toEqual([]);
  });
});
