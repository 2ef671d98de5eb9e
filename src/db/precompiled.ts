import type { Compilable, CompiledQuery } from 'kysely';

/**
 * A query compiled once and run many times with new values: building and compiling a Kysely
 * query costs more than executing a point lookup, so hot paths skip it. `build` receives
 * placeholder markers; each marker in the compiled parameters is replaced on every run.
 */
export function precompile<R, K extends string>(keys: readonly K[], build: (p: Record<K, string>) => Compilable<R>) {
  const markers = Object.fromEntries(keys.map((k, i) => [k, `\u0000plaza-param-${i}\u0000`])) as Record<K, string>;
  const byMarker = new Map(keys.map((k) => [markers[k], k]));
  const compiled = build(markers).compile();
  return (values: Record<K, unknown>): CompiledQuery<R> => ({
    ...compiled,
    parameters: compiled.parameters.map((p) => {
      const key = typeof p === 'string' ? byMarker.get(p) : undefined;
      return key === undefined ? p : values[key];
    }),
  });
}
