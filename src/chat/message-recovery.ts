import type { Database } from '../db/connect.js';
import * as messages from './messages.repository.js';

/** How far sequences jump after a machine crash: more than a run can ever have shown unsynced. */
export const LOST_SEQ_GAP = 10_000;

/**
 * After a machine crash, messages members saw may not have reached the disk (SQLite fans out at
 * commit and acks at fsync). Their sequence numbers must never name another message: skip well
 * past anything a run can have shown unsynced (the batcher's MAX_UNSYNCED plus one batch).
 */
export async function recoverFromLostCommits(database: Database): Promise<boolean> {
  if (!database.lostUnsyncedCommits) return false;
  await messages.skipSequences(database.db, LOST_SEQ_GAP);
  database.lossHandled();
  return true;
}
