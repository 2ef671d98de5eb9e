import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { CheckpointRequest, CheckpointWorkerData } from './checkpoint-worker.js';

/**
 * The worker thread's module, checkpoint-worker.ts, built by scripts/build.mjs into
 * dist/checkpoint-worker.mjs beside the bundle (dist/plaza.mjs), whose code this is. Run from
 * source (vitest: this module is src/db/checkpointer.ts) the worker is the same built file, which
 * the test run builds first (test/global-setup.mjs): Node 20 cannot run a .ts file in a thread.
 */
const WORKER_MODULE = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/checkpoint-worker.mjs', import.meta.url)
  : new URL('./checkpoint-worker.mjs', import.meta.url);

export const DEFAULT_CHECKPOINT_BYTES = 4 * 1024 * 1024;

/**
 * SQLite's automatic checkpoint runs inside whichever commit crosses the WAL threshold, and syncs
 * the database file there: on a slow disk that stalls the event loop for the whole fsync. Instead
 * the main connection never checkpoints by itself, and a worker thread with its own connection
 * runs a PASSIVE checkpoint (never blocking writers or readers) whenever the WAL has grown past
 * `thresholdBytes`, checked every second. The worker starts on first need.
 */
export function createCheckpointer(file: string, thresholdBytes = DEFAULT_CHECKPOINT_BYTES, everyMs = 1000) {
  let worker: Worker | undefined;
  let busy = false;
  let closed = false;
  let runs = 0;
  const walPath = `${file}-wal`;
  const start = () => {
    const data: CheckpointWorkerData = { file };
    const w = new Worker(WORKER_MODULE, { workerData: data });
    w.on('message', () => {
      busy = false;
      runs++;
    });
    // A checkpointer that dies only means the WAL grows until the next start: never fatal.
    w.on('error', () => {
      busy = false;
      worker = undefined;
    });
    w.unref();
    return w;
  };
  const tick = async () => {
    if (busy || closed) return;
    const size = (await stat(walPath).catch(() => undefined))?.size ?? 0;
    if (size < thresholdBytes || closed) return;
    worker ??= start();
    busy = true;
    worker.postMessage('checkpoint' satisfies CheckpointRequest);
  };
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return {
    runs: () => runs,
    async close() {
      closed = true;
      clearInterval(timer);
      const w = worker;
      worker = undefined;
      if (!w) return;
      const exited = once(w, 'exit').catch(() => {});
      w.postMessage('close' satisfies CheckpointRequest);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      await w.terminate().catch(() => {});
    },
  };
}
