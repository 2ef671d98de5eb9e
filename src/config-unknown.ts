/**
 * PLAZA_* variables that no setting reads: almost always a typo (PLAZA_PROT=80), which must not
 * silently leave the default in force. Reported at start with the nearest known name.
 */

/** The client's own variables (src/cli/client/environment.ts): set for `plaza login` and friends, harmless to `serve`. */
const CLIENT_SETTINGS = new Set(['PLAZA_SERVER', 'PLAZA_CACHE_MAX_BYTES']);

type Env = Record<string, string | undefined>;

/** `env` wrapped so that every name looked up is remembered in `seen`. */
export function recordingEnv(env: Env, seen: Set<string>): Env {
  return new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') seen.add(key);
      return Reflect.get(target, key) as string | undefined;
    },
  });
}

/** One sentence per PLAZA_* variable in `env` that was never looked up. */
export function unknownSettings(env: Env, seen: ReadonlySet<string>): string[] {
  const known = [...seen].filter((k) => k.startsWith('PLAZA_'));
  return Object.keys(env)
    .filter((k) => k.startsWith('PLAZA_') && !seen.has(k) && !CLIENT_SETTINGS.has(k))
    .sort()
    .map((k) => {
      const near = nearest(k, known);
      return `Unknown setting ${k} is ignored${near ? ` (did you mean ${near}?)` : ''}`;
    });
}

function nearest(name: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 5));
  for (const k of known) {
    const d = distance(name, k);
    if (d <= bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Levenshtein distance (names are short: the quadratic table is fine). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
