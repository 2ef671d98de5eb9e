import type { WebSocket } from 'ws';
import type { Core } from '../app.js';
import { forEachInSlices, runInSlices } from '../shared/slices.js';
import type { Revocation, Revocations } from '../accounts/revocations.js';
import { CLOSE } from './close-codes.js';

/** Sockets pinged (or logins re-checked) per turn of the event loop during a heartbeat. */
const SLICE = 100;

/** A socket the heartbeat looks after: pinged, dropped when silent, closed when its session ends. */
export interface HeartbeatEntry {
  socket: WebSocket;
  /** The login behind the socket; null for seed 004 guests and echo sockets. */
  sessionId: string | null;
  /** Its user, when it has one (a revocation of the user re-checks the socket at once). */
  userId?: number | null;
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
  /** Revocations as they happen: the sockets they concern are re-checked then, not at the next beat. */
  revocations?: Revocations;
}

/**
 * One timer for a set of sockets (each transport keeps its own set): every interval, a socket
 * that did not answer the previous ping is dropped and the others are pinged; then each login
 * behind them is re-checked once (logout, disable), however many sockets it has. Both run in
 * slices, so thousands of sockets never stall the event loop. Pings go out at every beat whatever
 * the database does: a re-check still running (a slow database) only makes the next beat skip
 * its own, and a slice of re-checks is waited for at most one interval. Returns the stop function.
 */
export function startHeartbeat<E extends HeartbeatEntry>(live: Set<E>, options: HeartbeatOptions<E>): () => void {
  const { intervalMs, sessionLive, each, onBeat } = options;
  let pinging = false;
  let checking = false;
  let stopped = false;

  /** Drops the silent, pings the rest; returns the sockets of each login. */
  async function ping(): Promise<Map<string, E[]>> {
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
    return bySession;
  }

  async function recheck(bySession: Map<string, E[]>) {
    await runInSlices(bySession, SLICE, intervalMs, async ([sessionId, entries]) => {
      if (stopped) return;
      let standing: boolean;
      try {
        standing = await sessionLive(sessionId);
      } catch {
        return; // The database is unwell: check again at a later beat.
      }
      if (!standing) for (const s of entries) s.socket.close(CLOSE.SESSION_ENDED, 'Session ended; log in again');
    });
  }

  /** The sockets a revocation concerns, re-checked now (a logout on another instance closes them at once). */
  function onRevocation(r: Revocation) {
    const bySession = new Map<string, E[]>();
    for (const s of live) {
      if (s.sessionId === null) continue;
      if ('sessionId' in r ? s.sessionId !== r.sessionId : s.userId !== r.userId) continue;
      const group = bySession.get(s.sessionId);
      if (group) group.push(s);
      else bySession.set(s.sessionId, [s]);
    }
    if (bySession.size > 0) void recheck(bySession);
  }
  const unsubscribe = options.revocations?.subscribe(onRevocation);

  const timer = setInterval(() => {
    onBeat?.();
    if (pinging) return;
    pinging = true;
    void ping()
      .then((bySession) => {
        if (checking || stopped) return;
        checking = true;
        void recheck(bySession).finally(() => (checking = false));
      })
      .finally(() => (pinging = false));
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe?.();
  };
}

/** Heartbeat settings for a transport's sockets: logins are re-checked with the accounts service. */
export function heartbeatOptions<E extends HeartbeatEntry>(core: Core, extra: Pick<HeartbeatOptions<E>, 'each' | 'onBeat'> = {}): HeartbeatOptions<E> {
  return {
    intervalMs: core.config.chat.heartbeatSeconds * 1000,
    sessionLive: async (sessionId) => (await core.accounts.authenticateSession(sessionId)) !== undefined,
    revocations: core.revocations,
    ...extra,
  };
}
