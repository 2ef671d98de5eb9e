// The checkpointer's thread (see checkpointer.ts): its own connection to the database file, and
// one PASSIVE checkpoint per request, so the main event loop never waits for the database file's
// fsync. Built into dist/ as its own entry point (scripts/build.mjs); never imported by the server.
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';

export interface CheckpointWorkerData {
  /** The SQLite database file (its WAL is `<file>-wal`). */
  file: string;
}
export type CheckpointRequest = 'checkpoint' | 'close';
/** `done`, or the message of the error the checkpoint failed with. */
export type CheckpointReply = string;

const port = parentPort;
if (!port) throw new Error('checkpoint-worker runs as a worker thread of checkpointer.ts');
const { file } = workerData as CheckpointWorkerData;
const db = new Sqlite(file);
port.on('message', (m: CheckpointRequest) => {
  if (m === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: CheckpointReply = 'done';
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    reply = String((err instanceof Error && err.message) || err);
  }
  port.postMessage(reply);
});
