import { type FileHandle, open } from 'node:fs/promises';

/**
 * One fdatasync of a file at a time; a caller always gets a sync that started after it asked, and
 * every caller waiting meanwhile shares the next one (group commit for the WAL). The descriptor
 * stays open until `close`.
 *
 * A failed fdatasync is final: Linux may drop the pages it could not write and report success to
 * the next call, so after one failure every later sync fails too (`failed` tells), rather than
 * ever vouching for data that may be gone.
 */
export function createSyncer(filePath: string) {
  let handle: Promise<FileHandle | undefined> | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let failure: Error | undefined;
  let closed = false;
  const syncOnce = async () => {
    if (failure) throw failure;
    // After close, the database's own closing checkpoint has synced everything.
    if (closed) return;
    handle ??= open(filePath, 'r+').catch((err: NodeJS.ErrnoException) => {
      handle = undefined;
      // No WAL: the last connection closed, after checkpointing (and syncing) it into the database.
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    try {
      await (await handle)?.datasync();
    } catch (err) {
      // Whether the WAL could not be opened or not be synced, nothing after this is vouched for.
      failure = err as Error;
      throw err;
    }
  };
  const start = () => {
    const p = syncOnce().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  };
  function sync(): Promise<void> {
    if (!running) return start();
    next ??= running
      .catch(() => {})
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  }
  async function close(): Promise<void> {
    await Promise.allSettled([running, next]);
    closed = true;
    const fh = await handle?.catch(() => undefined);
    handle = undefined;
    await fh?.close().catch(() => {});
  }
  return { sync, close, failed: () => failure !== undefined };
}
