import { describe, expect, it } from 'vitest';
import { AppError } from '../shared/errors.js';
import { backoffDelay, createAvailability } from './availability.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), { code: 'ECONNREFUSED' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the database availability gate', () => {
  it('backs off exponentially from the first delay to the bound, with half of each delay random', () => {
    const ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
    for (const [attempt, ceiling] of ceilings.entries()) {
      expect(backoffDelay(attempt, 100, 1000, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, 100, 1000, () => 1)).toBe(ceiling);
      expect(backoffDelay(attempt, 100, 1000, () => 0.5)).toBe(Math.round(ceiling * 0.75));
    }
    // A very long outage never overflows or passes the bound.
    expect(backoffDelay(10_000, 100, 1000, () => 1)).toBe(1000);
  });

  it('goes down on an unreachable server only, refuses at once while down, probes one at a time, and comes back by itself', async () => {
    let probes = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    let serverUp = false;
    const changes: boolean[] = [];
    const gate = createAvailability({
      minDelayMs: 5,
      maxDelayMs: 20,
      probe: async () => {
        probes++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await sleep(2);
        concurrent--;
        if (!serverUp) throw refused;
      },
    });
    gate.onChange((up) => changes.push(up));
    // A query's own failure (a unique violation, a syntax error) says nothing about the server.
    gate.failed(Object.assign(new Error('duplicate key'), { code: '23505' }));
    expect(gate.up).toBe(true);
    expect(() => gate.check()).not.toThrow();

    gate.failed(refused);
    gate.failed(refused);
    expect(gate.up).toBe(false);
    expect(gate.downSince).toBeTypeOf('number');
    let thrown: unknown;
    try {
      gate.check();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe('DATABASE_UNAVAILABLE');

    await sleep(120);
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(maxConcurrent).toBe(1);
    expect(gate.up).toBe(false);
    serverUp = true;
    for (let i = 0; i < 50 && !gate.up; i++) await sleep(5);
    expect(gate.up).toBe(true);
    expect(gate.downSince).toBeUndefined();
    expect(changes).toEqual([false, true]);
    const after = probes;
    await sleep(50);
    expect(probes).toBe(after);
    gate.close();
  });

  it('stops probing once closed', async () => {
    let probes = 0;
    const probe = async () => {
      probes++;
      throw refused;
    };
    const gate = createAvailability({ minDelayMs: 5, maxDelayMs: 5, probe });
    gate.failed(refused);
    gate.close();
    await sleep(40);
    expect(probes).toBe(0);
  });
});
