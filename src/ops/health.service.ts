import type { Database } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';

export const VERSION = '0.1.0';

export interface HealthDeps {
  database: Database;
  clock: Clock;
}

export type HealthService = ReturnType<typeof createHealthService>;

export function createHealthService({ database, clock }: HealthDeps) {
  const startedAt = clock.now();

  /** Readiness: the database answers within a short time. */
  async function check(): Promise<{ ok: boolean; database: 'up' | 'down'; latencyMs: number }> {
    const t0 = performance.now();
    try {
      await Promise.race([
        database.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return { ok: true, database: 'up', latencyMs: Math.round((performance.now() - t0) * 100) / 100 };
    } catch {
      return { ok: false, database: 'down', latencyMs: Math.round(performance.now() - t0) };
    }
  }

  function liveness() {
    return { status: 'ok' as const, version: VERSION, uptimeSeconds: Math.floor((clock.now() - startedAt) / 1000) };
  }

  return { check, liveness, dialect: database.dialect };
}
