import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { CLOSE } from './close-codes.js';
import { type HeartbeatEntry, type HeartbeatOptions, startHeartbeat } from './heartbeat.js';

/** A socket stand-in that records what the heartbeat did to it; `answers` = it pongs every ping. */
function fakeEntry(sessionId: string | null, answers = true) {
  const entry = {
    sessionId,
    alive: true,
    pings: 0,
    terminated: false,
    closedWith: undefined as number | undefined,
    socket: undefined as unknown as WebSocket,
  };
  entry.socket = {
    ping() {
      entry.pings++;
      if (answers) entry.alive = true;
    },
    terminate() {
      entry.terminated = true;
    },
    close(code: number) {
      entry.closedWith = code;
    },
  } as unknown as WebSocket;
  return entry;
}
type Fake = ReturnType<typeof fakeEntry> & HeartbeatEntry;

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});
function start(live: Set<Fake>, options: Partial<HeartbeatOptions<Fake>> & Pick<HeartbeatOptions<Fake>, 'sessionLive'>) {
  stops.push(startHeartbeat(live, { intervalMs: 20, ...options }));
}

describe('heartbeat', () => {
  it('pings every socket and re-checks each login once per beat however many sockets it has; an ended login loses all its sockets', async () => {
    const many = Array.from({ length: 200 }, () => fakeEntry('s-many'));
    const ended = Array.from({ length: 49 }, () => fakeEntry('s-ended'));
    const guest = fakeEntry(null);
    const live = new Set<Fake>([...many, ...ended, guest]);
    const checks: string[] = [];
    let beats = 0;
    start(live, {
      sessionLive: async (id) => {
        checks.push(id);
        return id !== 's-ended';
      },
      onBeat: () => beats++,
      intervalMs: 200,
    });
    await vi.waitFor(() => expect(ended.every((e) => e.closedWith === CLOSE.SESSION_ENDED)).toBe(true), { interval: 5 });
    expect(beats).toBe(1);
    expect(checks.sort()).toEqual(['s-ended', 's-many']);
    expect([...live].every((e) => e.pings === 1)).toBe(true);
    expect(many.some((e) => e.closedWith !== undefined) || guest.closedWith !== undefined).toBe(false);
  });

  it('drops a socket that did not answer the previous ping, at the next beat', async () => {
    const silent = fakeEntry('s1', false);
    const healthy = fakeEntry('s1');
    const live = new Set<Fake>([silent, healthy]);
    start(live, { sessionLive: async () => true });
    await vi.waitFor(() => expect(silent.terminated).toBe(true));
    expect(silent.pings).toBe(1);
    expect(healthy.terminated).toBe(false);
    expect(healthy.pings).toBeGreaterThanOrEqual(2);
  });

  it('sweeps thousands of sockets in slices, letting other work run in between', async () => {
    const live = new Set<Fake>(Array.from({ length: 1000 }, (_, i) => fakeEntry(`s${i % 10}`)));
    let pingedWhenOtherWorkRan = -1;
    const count = () => [...live].reduce((n, e) => n + e.pings, 0);
    start(live, {
      sessionLive: async () => true,
      onBeat: () => {
        if (pingedWhenOtherWorkRan === -1) setImmediate(() => (pingedWhenOtherWorkRan = count()));
      },
    });
    await vi.waitFor(() => expect(count()).toBeGreaterThanOrEqual(1000));
    expect(pingedWhenOtherWorkRan).toBeGreaterThan(0);
    expect(pingedWhenOtherWorkRan).toBeLessThan(1000);
  });

  it('keeps pinging (and dropping silent sockets) while login re-checks hang on a stuck database', async () => {
    const silent = fakeEntry('s1', false);
    const healthy = fakeEntry('s2');
    const live = new Set<Fake>([silent, healthy]);
    let calls = 0;
    start(live, {
      sessionLive: () => {
        calls++;
        return new Promise<boolean>(() => {}); // never answers
      },
    });
    await vi.waitFor(() => expect(silent.terminated).toBe(true));
    await vi.waitFor(() => expect(healthy.pings).toBeGreaterThanOrEqual(4));
    // Each beat's re-checks are waited for one interval at most, then tried again later.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(healthy.closedWith).toBeUndefined();
  });

  it('closes nothing when a login cannot be checked (database trouble), and stops beating once stopped', async () => {
    const a = fakeEntry('s1');
    const live = new Set<Fake>([a]);
    let calls = 0;
    const stop = startHeartbeat(live, {
      intervalMs: 20,
      sessionLive: async () => {
        calls++;
        throw new Error('database is locked');
      },
    });
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(2));
    expect(a.closedWith).toBeUndefined();
    expect(a.terminated).toBe(false);
    stop();
    const pings = a.pings;
    await new Promise((r) => setTimeout(r, 80));
    expect(a.pings).toBe(pings);
  });
});
