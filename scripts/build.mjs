// Bundles the server and CLI into one ESM file. Loading ~1,500 small module files costs over a
// second on a slow disk; one bundle starts in a fraction of that (SPEC §11: ready in ≤ 1 s).
// Code that runs on a thread of its own is a second entry point beside it (new Worker needs a file).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The SQLite checkpointer's thread (src/db/checkpointer.ts loads it from beside the bundle). */
export const CHECKPOINT_WORKER = { in: 'src/db/checkpoint-worker.ts', out: 'checkpoint-worker' };
/** The database console's process on SQLite (src/db/console-sqlite.ts forks it from beside the bundle). */
export const CONSOLE_WORKER = { in: 'src/db/console-worker.ts', out: 'console-worker' };
const MAIN = { in: 'src/plaza.ts', out: 'plaza' };

/** Builds these entry points into dist/<out>.mjs. */
export async function bundle(entryPoints) {
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Chunks: a server verb's code loads only when it runs (main.ts imports them lazily), so a client verb
    // starts without compiling the server (plaza whoami: ~0.1 s instead of ~0.3 s).
    splitting: true,
    // Chunks sit beside the entry points: code that finds a file next to itself (the checkpointer's
    // worker, checkpoint-worker.mjs) finds it from any chunk.
    chunkNames: '[name]-[hash]',
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
}

/**
 * The browser app (web/) into dist/web with Vite, from web/vite.config.ts. The server serves it
 * from there (src/http/webapp.ts); users never build anything.
 */
export async function buildWeb() {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: fileURLToPath(new URL('../web/vite.config.ts', import.meta.url)), logLevel: 'warn' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Chunk names carry a hash: last build's chunks would otherwise pile up beside the new ones.
  await rm(path.join(root, 'dist'), { recursive: true, force: true });
  await bundle([MAIN, CHECKPOINT_WORKER, CONSOLE_WORKER]);
  await buildWeb();
}
