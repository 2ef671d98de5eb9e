import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * SHA-256 of uploads off the main thread. Hashing costs ~0.6-0.9 s per GiB: on the event loop it
 * would sit on the critical path of every upload (and of every other request meanwhile). Small
 * uploads are hashed in place; larger ones are fed to a worker in 1 MiB batches whose memory is
 * transferred, not copied again.
 */

const BATCH = 1024 * 1024;

// An eval'd CommonJS worker: nothing for the bundler to find or miss.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (m.chunk) {
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    h.update(m.chunk);
  } else if (m.end) {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, sha256: (h ?? createHash('sha256')).digest('hex') });
  } else if (m.abort) {
    hashes.delete(m.id);
  }
});
`;

interface Pool {
  worker: Worker;
  waiting: Map<number, { resolve(sha: string): void; reject(err: Error): void }>;
}

const pools: Pool[] = [];
let nextId = 1;

function poolFor(id: number): Pool {
  const size = Math.max(1, Math.min(2, availableParallelism() - 1));
  const index = id % size;
  let pool = pools[index];
  if (!pool) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    const created: Pool = { worker, waiting: new Map() };
    worker.on('message', (m: { id: number; sha256: string }) => {
      created.waiting.get(m.id)?.resolve(m.sha256);
      created.waiting.delete(m.id);
    });
    const fail = (err: Error) => {
      for (const w of created.waiting.values()) w.reject(err);
      created.waiting.clear();
      if (pools[index] === created) pools[index] = undefined as unknown as Pool;
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('hash worker exited')));
    pools[index] = created;
    pool = created;
  }
  return pool;
}

/** A running SHA-256: `update` is synchronous and cheap; `digest` resolves with the hex digest. */
export interface StreamHash {
  update(chunk: Buffer): void;
  digest(): Promise<string>;
  /** Forget an unfinished hash (the upload failed). */
  abort(): void;
}

export function createStreamHash(): StreamHash {
  let batch: Buffer | undefined;
  let fill = 0;
  let id = 0;
  let pool: Pool | undefined;

  function send() {
    if (!batch || fill === 0) return;
    if (!pool) {
      id = nextId++;
      pool = poolFor(id);
    }
    const chunk = fill === batch.length ? batch : batch.subarray(0, fill);
    pool.worker.postMessage({ id, chunk }, [chunk.buffer as ArrayBuffer]);
    batch = undefined;
    fill = 0;
  }

  return {
    update(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        batch ??= Buffer.allocUnsafeSlow(BATCH);
        const n = chunk.copy(batch, fill, offset);
        fill += n;
        offset += n;
        if (fill === batch.length) send();
      }
    },
    digest() {
      // Under one batch in all: hashing here is cheaper than a round trip.
      if (!pool) return Promise.resolve(createHash('sha256').update(batch?.subarray(0, fill) ?? Buffer.alloc(0)).digest('hex'));
      send();
      const p = pool;
      return new Promise((resolve, reject) => {
        p.waiting.set(id, { resolve, reject });
        p.worker.postMessage({ id, end: true });
      });
    },
    abort() {
      if (pool) pool.worker.postMessage({ id, abort: true });
      batch = undefined;
      fill = 0;
    },
  };
}
