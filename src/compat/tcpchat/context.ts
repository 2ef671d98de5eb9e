import type net from 'node:net';
import type { Core } from '../../app.js';

/** What every connection of one seed 003 door shares: the services, the settings, the logs, the work to wait for. */

export interface DoorLog {
  /** The server failed (a fault), or something an operator must see. */
  error(obj: object, msg: string): void;
  /** The server cannot do it right now (database down, disk full): not a bug. */
  warn(obj: object, msg: string): void;
}

export interface DoorSettings {
  /** The bridged room (created on the first login when missing). */
  room: string;
  autoRegister: boolean;
  pauseMs: number;
  gapMs: number;
  partialGapMs: number;
  loginTimeoutMs: number;
  fileIdleMs: number;
  skipQuietMs: number;
  maxQueuedFrames: number;
  framesPer10s: number;
}

export interface DoorContext {
  core: Core;
  settings: DoorSettings;
  log: DoorLog;
  /** Logged-in connections and their user: re-checked on a timer, so a disabled account is cut off. */
  accounts: Map<net.Socket, number>;
  /** Users between "not online" and attached to the hub: a second login for them is a duplicate. */
  loggingIn: Set<number>;
  /** Work that must finish before the database closes (sends, uploads, hub detaches). */
  track<T>(p: Promise<T>): Promise<T>;
}

/** Time a closing connection gets to read its last words before it is cut. */
export const LINGER_MS = 5000;
