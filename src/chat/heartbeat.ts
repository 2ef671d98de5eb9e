import type { WebSocket } from 'ws';
import { forEachInSlices } from '../shared/slices.js';

export const CLOSE_SESSION_ENDED = 4001;
/** Sockets pinged (or logins re-checked) per turn of the event loop during a heartbeat. */
const SLICE = 100;

/** A socket the heartbeat looks after: pinged, dropped when silent, closed when its session ends. */
export interface HeartbeatEntry {
  socket: WebSocket;
  /** The login behind the socket; null for seed 004 guests and echo sockets. */
  sessionId: string | null;
  alive: boolean;
}

export interface HeartbeatOptions<E extends HeartbeatEntry> {
  intervalMs: number;
  /** Whether a login still stands; its sockets are closed when it does not. A throw means "cannot tell": nothing is closed. */
  sessionLive(sessionId: string): Promise<boolean>;
  /** A transport's own check of each socket. */
  each?: (entry: E) => void;
  /** Runs at the start of every beat. */
  onBeat?: () => void;
}

/**
 * One timer for a set of sockets (each transport keeps its own set): every interval, a socket
 * that did not answer the previous ping is dropped, the others are pinged, and each login behind
 * them is re-checked once (logout, disable) however many sockets it has. The sweep runs in slices
 * so that thousands of sockets never stall the event loop; a beat that finds the previous sweep
 * still running is skipped. Returns the stop function.
 */
export function startHeartbeat<E extends HeartbeatEntry>(live: Set<E>, options: HeartbeatOptions<E>): () => void {
  const { intervalMs, sessionLive, each, onBeat } = options;
  let sweeping = false;
  let stopped = false;

  async function sweep() {
    onBeat?.();
    const bySession = new Map<string, E[]>();
    await forEachInSlices([...live], SLICE, (s) => {
      // Closed since the sweep began.
      if (stopped || !live.has(s)) return;
      if (!s.alive) {
        s.socket.terminate();
        return;
      }
      s.alive = false;
      s.socket.ping();
      if (s.sessionId !== null) {
        const group = bySession.get(s.sessionId);
        if (group) group.push(s);
        else bySession.set(s.sessionId, [s]);
      }
      each?.(s);
    });
    await forEachInSlices(bySession, SLICE, async ([sessionId, entries]) => {
      if (stopped) return;
      let standing: boolean;
      try {
        standing = await sessionLive(sessionId);
      } catch {
        return; // The database is unwell: check again at the next beat.
      }
      if (!standing) for (const s of entries) s.socket.close(CLOSE_SESSION_ENDED, 'Session ended; log in again');
    });
  }

  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep().then(
      () => (sweeping = false),
      () => (sweeping = false),
    );
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
