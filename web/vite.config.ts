import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The browser app. Built by scripts/build.mjs (npm run build) into dist/web, which Plaza serves
// from memory (src/http/webapp.ts): hashed names under /assets/ (cached for a year), index.html
// never cached. Nothing is inlined, so the app's CSP needs no 'unsafe-inline'.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
