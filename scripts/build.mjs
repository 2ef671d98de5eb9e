// Bundles the server and CLI into one ESM file. Loading ~1,500 small module files costs over a
// second on a slow disk; one bundle starts in a fraction of that (SPEC §11: ready in ≤ 1 s).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/plaza.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  sourcemap: true,
  legalComments: 'none',
  // Native addons and packages that read their own files at run time stay in node_modules.
  external: ['better-sqlite3', '@node-rs/argon2', '@fastify/swagger-ui', 'redoc', 'pg-native'],
  banner: {
    js: "import { createRequire as __plazaCreateRequire } from 'node:module'; const require = __plazaCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
