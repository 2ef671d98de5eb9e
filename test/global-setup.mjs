// Runs once before the tests. Code under test runs from src/, but a worker thread (or the console's
// forked process) cannot run a .ts
// file on Node 20: the checkpointer's worker is built to where checkpointer.ts looks for it when run
// from source (dist/checkpoint-worker.mjs), so it is never older than its source. The web app
// (dist/web, served by src/http/webapp.ts) is built when missing or older than web/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildWeb, bundle, CHECKPOINT_WORKER, CONSOLE_WORKER } from '../scripts/build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time of the web app's sources. */
function newestWebSource() {
  let newest = 0;
  for (const e of readdirSync(path.join(root, 'web'), { recursive: true, withFileTypes: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

export default async function setup() {
  await bundle([CHECKPOINT_WORKER, CONSOLE_WORKER]);
  const index = path.join(root, 'dist/web/index.html');
  if (!existsSync(index) || statSync(index).mtimeMs < newestWebSource()) await buildWeb();
}
