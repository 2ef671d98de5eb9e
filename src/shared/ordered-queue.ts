/**
 * Each connection's frames handled strictly one after another (Hocuspocus's per-connection
 * `processMessages` is the model): `push` appends a task that starts when the previous one has
 * settled; a task's failure goes to `onError` and does not stop the ones after it. `pending` is
 * what waits (for a cap on a client that outruns the server); after `close` new tasks are dropped.
 */
export interface OrderedQueue {
  push(task: () => unknown): void;
  readonly pending: number;
  /** Settles when every task pushed so far has run. */
  idle(): Promise<void>;
  close(): void;
}

export function createOrderedQueue(onError: (err: unknown) => void): OrderedQueue {
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  let closed = false;
  const run = async (task: () => unknown) => {
    try {
      if (!closed) await task();
    } catch (err) {
      onError(err);
    } finally {
      pending--;
    }
  };
  return {
    push(task) {
      if (closed) return;
      pending++;
      tail = tail.then(() => run(task));
    },
    get pending() {
      return pending;
    },
    idle: () => tail,
    close() {
      closed = true;
    },
  };
}
