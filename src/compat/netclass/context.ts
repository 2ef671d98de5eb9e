import type { Core } from '../../app.js';
import type { createNetclassSemantics } from './semantics.js';

/** What every connection of one seed 001 door shares: the services, the seed's rules, the logs, the settings. */

export interface DoorLog {
  /** The server failed (a fault). */
  error(obj: object, msg: string): void;
  /** The server cannot do it right now (database down, busy): not a bug. */
  warn(obj: object, msg: string): void;
}

export interface NetclassContext {
  core: Core;
  seed: ReturnType<typeof createNetclassSemantics>;
  log: DoorLog;
  /** Quiet time that ends a request; reads closer together than this are joined. */
  idleGapMs: number;
  /** Largest buffered request; beyond it the client gets 413 and the connection is closed. */
  maxRequestBytes: number;
  /** Connections with no traffic for this long are closed. */
  idleTimeoutMs: number;
  /** Each connection's queued work, so close() can wait for it before the database goes away. */
  track(p: Promise<void>): void;
}

/** Time a closing connection gets to read its last reply before it is cut. */
export const LINGER_MS = 5000;
