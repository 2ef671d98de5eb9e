// Runs once before the tests. Code under test runs from src/, but a worker thread cannot run a .ts
// file on Node 20: the checkpointer's worker is built to where checkpointer.ts looks for it when run
// from source (dist/checkpoint-worker.mjs), so it is never older than its source.
import { bundle, CHECKPOINT_WORKER } from '../scripts/build.mjs';

export default async function setup() {
  await bundle([CHECKPOINT_WORKER]);
}
