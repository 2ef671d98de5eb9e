import { describe, expect, it } from 'vitest';
import { createLocalBus } from './bus.js';
import { createHub, type HubConnection, type Timers } from './hub.js';
import type { ChatMessage, HubEvent } from './model.js';

/** Timers driven by the test: `advance(ms)` fires what is due. */
function manualTimers() {
  let now = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  const timers: Timers = {
    setTimeout(fn, ms) {
      const id = next++;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      pending.delete(h as number);
    },
  };
  return {
    timers,
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...pending]) {
        if (t.at <= now) {
          pending.delete(id);
          t.fn();
        }
      }
    },
  };
}

function setup(graceMs = 1000, maxHeldBytes?: number) {
  const clock = manualTimers();
  // Events cross the bus as JSON, as they will between instances.
  const hub = createHub({ bus: createLocalBus({ roundTrip: true }), graceMs, timers: clock.timers, ...(maxHeldBytes ? { maxHeldBytes } : {}) });
  const got = new Map<string, HubEvent[]>();
  let n = 0;
  const overflows = new Map<string, number>();
  const conn = (user: string): HubConnection => {
    const id = `c${++n}`;
    got.set(id, []);
    const c: HubConnection = {
      id,
      participant: { key: user, userId: Number(user.slice(1)) || null, name: user },
      deliver: (e) => got.get(id)?.push(e),
      overflow: () => overflows.set(id, (overflows.get(id) ?? 0) + 1),
    };
    hub.attach(c);
    return c;
  };
  /** Presence events a connection received, as "event user count". */
  const presence = (c: HubConnection) =>
    (got.get(c.id) ?? []).flatMap((e) => (e.kind === 'presence' ? [`${e.event} ${e.user.name} ${e.count}`] : []));
  const seqs = (c: HubConnection) =>
    (got.get(c.id) ?? []).flatMap((e) => (e.kind === 'message' ? [e.message.seq] : []));
  return { hub, conn, presence, seqs, advance: clock.advance, got, overflows };
}

const room = { id: 1, name: 'lobby' };
function msg(seq: number, roomId = 1): ChatMessage {
  return { id: `m${seq}`, room: roomId, seq, sender: { id: 1, name: 'u1' }, kind: 'text', body: `#${seq}`, createdAt: 0 };
}

describe('hub presence (seed 003 semantics)', () => {
  // Each row: what happens, then the presence events the observer (u9, in the room throughout) sees.
  const table: Array<{ name: string; run: (s: ReturnType<typeof setup>) => void; expected: string[] }> = [
    {
      name: 'joined with the count; a clean goodbye is "left" and the count drops',
      run: ({ hub, conn }) => {
        const a = conn('u1');
        hub.subscribe(a, room);
        hub.detach(a, true);
      },
      expected: ['joined u1 2', 'left u1 1'],
    },
    {
      name: 'a dropped connection is "disconnected" with the count kept, then "offline" after the grace period',
      run: ({ hub, conn, advance }) => {
        const a = conn('u1');
        hub.subscribe(a, room);
        hub.detach(a, false);
        advance(999);
        advance(1);
      },
      expected: ['joined u1 2', 'disconnected u1 2', 'offline u1 1'],
    },
    {
      name: 'coming back within the grace period is "rejoined", and the timer then changes nothing',
      run: ({ hub, conn, advance }) => {
        const a = conn('u1');
        hub.subscribe(a, room);
        hub.detach(a, false);
        advance(500);
        const b = conn('u1');
        hub.subscribe(b, room);
        advance(5000);
      },
      expected: ['joined u1 2', 'disconnected u1 2', 'rejoined u1 2'],
    },
    {
      name: 'several connections of one user count once; only the last one leaving is announced',
      run: ({ hub, conn }) => {
        const a = conn('u1');
        const b = conn('u1');
        hub.subscribe(a, room);
        hub.subscribe(b, room);
        hub.detach(a, false);
        hub.detach(b, true);
      },
      expected: ['joined u1 2', 'left u1 1'],
    },
    {
      name: 'leaving the room while online is "left"',
      run: ({ hub, conn }) => {
        const a = conn('u1');
        hub.subscribe(a, room);
        hub.unsubscribe(a, room.id);
      },
      expected: ['joined u1 2', 'left u1 1'],
    },
  ];

  for (const row of table) {
    it(row.name, () => {
      const s = setup();
      const observer = s.conn('u9');
      s.hub.subscribe(observer, room);
      row.run(s);
      expect(s.presence(observer)).toEqual(['joined u9 1', ...row.expected]);
    });
  }

  it('a room left while disconnected stops counting the user once they go away cleanly', () => {
    const s = setup();
    const observer = s.conn('u9');
    s.hub.subscribe(observer, room);
    const a = s.conn('u1');
    s.hub.subscribe(a, room);
    s.hub.detach(a, false);
    // Back within the grace period, but the new connection does not follow the room, then says goodbye.
    const b = s.conn('u1');
    s.hub.detach(b, true);
    expect(s.presence(observer)).toEqual(['joined u9 1', 'joined u1 2', 'disconnected u1 2', 'left u1 1']);
    expect(s.hub.presentIn(1).map((p) => p.key)).toEqual(['u9']);
    const c = s.conn('u1');
    s.hub.subscribe(c, room);
    expect(s.presence(observer).at(-1)).toBe('joined u1 2');
  });

  it('tracks online / disconnected / offline per user', () => {
    const s = setup();
    const a = s.conn('u1');
    expect(s.hub.presenceOf('u1')).toBe('online');
    s.hub.detach(a, false);
    expect(s.hub.presenceOf('u1')).toBe('disconnected');
    s.advance(1000);
    expect(s.hub.presenceOf('u1')).toBe('offline');
    expect(s.hub.connectionCount()).toBe(0);
  });

  it('with no grace period a drop goes straight to offline', () => {
    const s = setup(0);
    const observer = s.conn('u9');
    s.hub.subscribe(observer, room);
    const a = s.conn('u1');
    s.hub.subscribe(a, room);
    s.hub.detach(a, false);
    expect(s.presence(observer)).toEqual(['joined u9 1', 'joined u1 2', 'offline u1 1']);
  });
});

describe('hub fan-out and replay', () => {
  it('delivers room messages to subscribed connections only, each once', async () => {
    const s = setup();
    const a = s.conn('u1');
    const b = s.conn('u2');
    const other = s.conn('u3');
    s.hub.subscribe(a, room);
    s.hub.subscribe(b, room);
    s.hub.subscribe(other, { id: 2, name: 'elsewhere' });
    expect(await s.hub.publishToRoom(1, { kind: 'message', message: msg(1) })).toBe(2);
    await s.hub.publishToRoom(1, { kind: 'message', message: msg(1) });
    expect(s.seqs(a)).toEqual([1]);
    expect(s.seqs(b)).toEqual([1]);
    expect(s.seqs(other)).toEqual([]);
  });

  it('replay then live: in order, exactly once, live messages held until the replay ends', async () => {
    const s = setup();
    const a = s.conn('u1');
    s.hub.subscribe(a, room);
    expect(s.hub.beginReplay(a, 1, 2)).toBe(true);
    s.hub.replayMessage(a, msg(3));
    // A live message arrives in the middle of the replay: held back.
    await s.hub.publishToRoom(1, { kind: 'message', message: msg(6) });
    s.hub.replayMessage(a, msg(4));
    s.hub.replayMessage(a, msg(5));
    s.hub.replayMessage(a, msg(6));
    s.hub.replayMessage(a, msg(2)); // at or before the cursor: ignored
    s.hub.endReplay(a, 1);
    await s.hub.publishToRoom(1, { kind: 'message', message: msg(7) });
    expect(s.seqs(a)).toEqual([3, 4, 5, 6, 7]);
  });

  it('bounds the live messages held during a replay: past the limit the connection overflows and gets nothing more', async () => {
    const s = setup(1000, 2000);
    const slow = s.conn('u1');
    const other = s.conn('u2');
    s.hub.subscribe(slow, room);
    s.hub.subscribe(other, room);
    expect(s.hub.beginReplay(slow, 1, 0)).toBe(true);
    s.hub.replayMessage(slow, msg(1));
    // Each held message weighs its body's bytes plus a fixed share (756): the third would pass 2,000.
    const big = (seq: number) => ({ ...msg(seq), body: 'x'.repeat(500) });
    await s.hub.publishToRoom(1, { kind: 'message', message: big(10) });
    await s.hub.publishToRoom(1, { kind: 'message', message: big(11) });
    expect(s.overflows.get(slow.id)).toBeUndefined();
    await s.hub.publishToRoom(1, { kind: 'message', message: big(12) });
    expect(s.overflows.get(slow.id)).toBe(1);
    await s.hub.publishToRoom(1, { kind: 'message', message: big(13) });
    s.hub.replayMessage(slow, msg(2));
    s.hub.endReplay(slow, 1);
    await s.hub.publishToRoom(1, { kind: 'message', message: big(14) });
    // Nothing held is delivered, nothing more arrives, and the overflow is reported once.
    expect(s.seqs(slow)).toEqual([1]);
    expect(s.overflows.get(slow.id)).toBe(1);
    expect(s.hub.beginReplay(slow, 1, 2)).toBe(false);
    expect(s.seqs(other)).toEqual([10, 11, 12, 13, 14]);
  });

  it('counts what is held across all the rooms a connection replays at once; a room that ends its replay or is left gives its share back', async () => {
    const s = setup(1000, 3000);
    const rooms = [1, 2, 3].map((id) => ({ id, name: `r${id}` }));
    const replaying = (user: string) => {
      const c = s.conn(user);
      for (const r of rooms) {
        s.hub.subscribe(c, r);
        s.hub.beginReplay(c, r.id, 0);
      }
      return c;
    };
    // Each weighs 744 bytes of body + 256 = 1,000.
    const big = (seq: number, roomId: number) => ({ ...msg(seq, roomId), body: 'é'.repeat(372) });
    const c = replaying('u1');
    for (const r of rooms) await s.hub.publishToRoom(r.id, { kind: 'message', message: big(1, r.id) });
    expect(s.overflows.get(c.id)).toBeUndefined();
    // No room holds more than 2,000, but the connection would hold 4,000.
    await s.hub.publishToRoom(3, { kind: 'message', message: big(2, 3) });
    expect(s.overflows.get(c.id)).toBe(1);

    s.hub.detach(c, true);
    const d = replaying('u2');
    await s.hub.publishToRoom(1, { kind: 'message', message: big(3, 1) });
    await s.hub.publishToRoom(2, { kind: 'message', message: big(3, 2) });
    s.hub.endReplay(d, 1); // gives back 1,000 (and delivers it)
    s.hub.unsubscribe(d, 2); // gives back 1,000
    for (const seq of [3, 4, 5]) await s.hub.publishToRoom(3, { kind: 'message', message: big(seq, 3) });
    expect(s.overflows.get(d.id)).toBeUndefined();
    await s.hub.publishToRoom(3, { kind: 'message', message: big(6, 3) });
    expect(s.overflows.get(d.id)).toBe(1);
    expect(s.seqs(d)).toEqual([3]);
  });

  it('a replay after live delivery fills the gap without repeating what arrived live', async () => {
    const s = setup();
    const a = s.conn('u1');
    s.hub.subscribe(a, room);
    await s.hub.publishToRoom(1, { kind: 'message', message: msg(10) });
    s.hub.beginReplay(a, 1, 7);
    for (const seq of [8, 9, 10, 11]) s.hub.replayMessage(a, msg(seq));
    s.hub.endReplay(a, 1);
    expect(s.seqs(a)).toEqual([10, 8, 9]);
  });

  it('membership events subscribe and unsubscribe all of a user\u2019s connections', async () => {
    const s = setup();
    const a = s.conn('u1');
    const b = s.conn('u1');
    const info = { id: 5, name: 'new', kind: 'room' as const, visibility: 'public' as const, lastSeq: 0, createdAt: 0 };
    await s.hub.publishToUser('u1', { kind: 'membership', event: 'added', room: info });
    expect(s.hub.isSubscribed(a, 5) && s.hub.isSubscribed(b, 5)).toBe(true);
    expect(await s.hub.publishToRoom(5, { kind: 'message', message: msg(1, 5) })).toBe(2);
    await s.hub.publishToUser('u1', { kind: 'membership', event: 'removed', room: info });
    expect(s.hub.isSubscribed(a, 5)).toBe(false);
    expect(await s.hub.publishToRoom(5, { kind: 'message', message: msg(2, 5) })).toBe(0);
  });

  it('direct events reach every connection of the user and report the count', async () => {
    const s = setup();
    s.conn('u1');
    s.conn('u1');
    expect(await s.hub.publishToUser('u1', { kind: 'direct', from: { id: 2, name: 'u2' }, text: 'hi' })).toBe(2);
    expect(await s.hub.publishToUser('u7', { kind: 'direct', from: { id: 2, name: 'u2' }, text: 'hi' })).toBe(0);
  });
});

describe('local bus contract', () => {
  it('delivers per channel, counts deliveries, unsubscribes, and carries plain JSON', async () => {
    const bus = createLocalBus({ roundTrip: true });
    const seen: HubEvent[] = [];
    const off = bus.subscribe('room:1', (e) => {
      seen.push(e);
      return 3;
    });
    bus.subscribe('room:2', () => 1);
    const event: HubEvent = { kind: 'message', message: msg(1) };
    expect(await bus.publish('room:1', event)).toBe(3);
    expect(seen[0]).toEqual(event);
    expect(seen[0]).not.toBe(event);
    off();
    expect(await bus.publish('room:1', event)).toBe(0);
    expect(await bus.publish('room:9', event)).toBe(0);
    await bus.close();
    expect(await bus.publish('room:2', event)).toBe(0);
  });
});

describe('hub bounds', () => {
  it('after any churn of connections, rooms and drops, nothing is held once everyone has gone', async () => {
    const graceMs = 1000;
    const clock = manualTimers();
    const bus = createLocalBus({ roundTrip: true });
    const hub = createHub({ bus, graceMs, timers: clock.timers });
    // A fixed pseudo-random sequence (LCG) so a failure replays the same way.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const live: HubConnection[] = [];
    let made = 0;
    let peak = 0;
    for (let step = 0; step < 5000; step++) {
      const op = rand(10);
      if (op < 3 || live.length === 0) {
        const user = `u${rand(40)}`;
        const c: HubConnection = { id: `c${++made}`, participant: { key: user, userId: Number(user.slice(1)), name: user }, deliver: () => {} };
        hub.attach(c);
        live.push(c);
      } else if (op < 6) {
        const c = live[rand(live.length)]!;
        const room = rand(25) + 1;
        hub.subscribe(c, { id: room, name: `r${room}` });
      } else if (op < 7) {
        const c = live[rand(live.length)]!;
        hub.unsubscribe(c, rand(25) + 1);
      } else if (op < 9) {
        const [c] = live.splice(rand(live.length), 1);
        hub.detach(c!, rand(2) === 0);
      } else {
        clock.advance(rand(graceMs * 2));
      }
      peak = Math.max(peak, hub.sizes().presence);
    }
    expect(peak).toBeGreaterThan(50);
    expect(made).toBeGreaterThan(1000);
    for (const c of live.splice(0)) hub.detach(c, rand(2) === 0);
    clock.advance(graceMs + 1);
    await Promise.resolve();
    expect(hub.sizes()).toEqual({ connections: 0, users: 0, rooms: 0, userChannels: 0, presence: 0, cursors: 0 });
    expect(bus.channelCount()).toBe(0);
  });
});

describe('hub sequencing (several instances)', () => {
  function sequencedSetup(history: number[] = [], failFill = false) {
    const clock = manualTimers();
    const fills: Array<[number, number]> = [];
    const hub = createHub({
      bus: createLocalBus({ roundTrip: true }),
      graceMs: 1000,
      timers: clock.timers,
      sequencing: {
        waitMs: 100,
        fill: async (_room, after, before) => {
          fills.push([after, before]);
          if (failFill) throw new Error('database away');
          return history.filter((s) => s > after && s < before).map((s) => msg(s));
        },
      },
    });
    const got: number[] = [];
    const c: HubConnection = { id: 'c1', participant: { key: 'u1', userId: 1, name: 'u1' }, deliver: (e) => e.kind === 'message' && got.push(e.message.seq) };
    hub.attach(c);
    hub.subscribe(c, room);
    const send = (seq: number) => hub.publishToRoom(1, { kind: 'message', message: msg(seq) });
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    return { hub, got, fills, send, clock, settle };
  }

  it('puts messages that cross instances out of order back in sequence order, each once', async () => {
    const s = sequencedSetup();
    for (const seq of [1, 2, 4, 3, 5, 7, 6, 6, 3]) await s.send(seq);
    expect(s.got).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(s.fills).toEqual([]);
  });

  it('fills what never arrives (a Redis restart lost it) from history after the wait, in order', async () => {
    const s = sequencedSetup([3, 4]);
    for (const seq of [1, 2, 5, 6]) await s.send(seq);
    expect(s.got).toEqual([1, 2]);
    s.clock.advance(100);
    await s.settle();
    expect(s.fills).toEqual([[2, 5]]);
    expect(s.got).toEqual([1, 2, 3, 4, 5, 6]);
    await s.send(7);
    expect(s.got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('passes over numbers history does not have (skipped sequences) and over an unreadable history', async () => {
    for (const failFill of [false, true]) {
      const s = sequencedSetup([], failFill);
      await s.send(1);
      await s.send(10_002);
      s.clock.advance(100);
      await s.settle();
      await s.send(10_003);
      expect(s.got).toEqual([1, 10_002, 10_003]);
    }
  });

  it('a single instance (no sequencing) delivers as it arrives', async () => {
    const hub = createHub({ bus: createLocalBus(), graceMs: 0 });
    const got: number[] = [];
    const c: HubConnection = { id: 'c1', participant: { key: 'u1', userId: 1, name: 'u1' }, deliver: (e) => e.kind === 'message' && got.push(e.message.seq) };
    hub.attach(c);
    hub.subscribe(c, room);
    for (const seq of [1, 5, 6]) await hub.publishToRoom(1, { kind: 'message', message: msg(seq) });
    expect(got).toEqual([1, 5, 6]);
  });
});

describe('hub presence across instances', () => {
  /** Two or more hubs whose presence updates cross a wire (as Redis would carry them, through JSON). */
  function instances(n: number, graceMs = 1000) {
    const clock = manualTimers();
    const hubs: Array<ReturnType<typeof createHub>> = [];
    const cut = new Set<number>();
    for (let i = 0; i < n; i++) {
      hubs.push(
        createHub({
          bus: createLocalBus({ roundTrip: true }),
          graceMs,
          timers: clock.timers,
          cluster: {
            instance: `i${i}`,
            wire: {
              publish: (u) => {
                if (cut.has(i)) return;
                const copy = JSON.parse(JSON.stringify(u));
                hubs.forEach((h, j) => j !== i && !cut.has(j) && h.cluster?.receive(copy));
              },
            },
          },
        }),
      );
    }
    const events = new Map<string, string[]>();
    let n2 = 0;
    const conn = (hubIndex: number, user: string): HubConnection => {
      const id = `c${++n2}`;
      events.set(id, []);
      const c: HubConnection = {
        id,
        participant: { key: user, userId: Number(user.slice(1)), name: user },
        deliver: (e) => e.kind === 'presence' && events.get(id)?.push(`${e.event} ${e.user.name} ${e.count}`),
      };
      hubs[hubIndex]!.attach(c);
      return c;
    };
    return { hubs, conn, events, clock, cut };
  }

  it('a user on two instances is one presence: joined once, counted once, online until the last instance lets go', () => {
    const { hubs, conn, events } = instances(2);
    const [a, b] = hubs as [ReturnType<typeof createHub>, ReturnType<typeof createHub>];
    const watcher = conn(1, 'u9');
    b.subscribe(watcher, room);
    const tabA = conn(0, 'u1');
    a.subscribe(tabA, room);
    const tabB = conn(1, 'u1');
    b.subscribe(tabB, room);
    expect(b.presenceOf('u1')).toBe('online');
    expect(b.presentIn(1).map((p) => p.name).sort()).toEqual(['u1', 'u9']);
    a.detach(tabA, true);
    expect(b.presenceOf('u1')).toBe('online');
    b.detach(tabB, true);
    expect(a.presenceOf('u1')).toBe('offline');
    expect(events.get(watcher.id)).toEqual(['joined u9 1', 'joined u1 2', 'left u1 1']);
  });

  it('an instance that stops (kill -9) has its users disconnected at once for the others, offline after the grace period', () => {
    const { hubs, conn, events, clock } = instances(2);
    const [a, b] = hubs as [ReturnType<typeof createHub>, ReturnType<typeof createHub>];
    const watcher = conn(1, 'u9');
    b.subscribe(watcher, room);
    a.subscribe(conn(0, 'u1'), room);
    expect(b.cluster?.peers()).toEqual(new Set(['i0']));
    b.cluster?.instanceGone('i0');
    expect(b.presenceOf('u1')).toBe('disconnected');
    clock.advance(1000);
    expect(b.presenceOf('u1')).toBe('offline');
    expect(events.get(watcher.id)).toEqual(['joined u9 1', 'joined u1 2', 'disconnected u1 2', 'offline u1 1']);
  });

  it('after a cut (Redis away) a resync puts every instance right again', () => {
    const { hubs, conn, events, cut } = instances(2);
    const [a, b] = hubs as [ReturnType<typeof createHub>, ReturnType<typeof createHub>];
    const watcher = conn(1, 'u9');
    b.subscribe(watcher, room);
    cut.add(0);
    const tab = conn(0, 'u1');
    a.subscribe(tab, room);
    expect(b.presenceOf('u1')).toBe('offline');
    cut.delete(0);
    a.cluster?.resync();
    expect(b.presenceOf('u1')).toBe('online');
    cut.add(0);
    a.detach(tab, true);
    cut.delete(0);
    a.cluster?.resync();
    expect(b.presenceOf('u1')).toBe('offline');
    expect(events.get(watcher.id)).toEqual(['joined u9 1', 'joined u1 2', 'left u1 1']);
  });
});
