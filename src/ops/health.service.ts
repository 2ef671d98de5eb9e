import type { Database } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import type { DiskGuard, DiskState } from './disk.js';

export const VERSION = '0.1.0';

export interface HealthDeps {
  database: Database;
  clock: Clock;
  disk: Pick<DiskGuard, 'probe'>;
}

export type HealthService = ReturnType<typeof createHealthService>;

export interface HealthCheck {
  ok: boolean;
  database: 'up' | 'down';
  latencyMs: number;
  /** Whether the data dir takes writes: a full or read-only disk is degraded even with the database up. */
  storage: DiskState;
}

/** Health answers within 2 s whatever hangs below it. */
function withinTimeout<T>(p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
}

export function createHealthService({ database, clock, disk }: HealthDeps) {
  const startedAt = clock.now();

  async function pingDatabase(): Promise<Pick<HealthCheck, 'database' | 'latencyMs'>> {
    const t0 = performance.now();
    try {
      await withinTimeout(database.ping());
      return { database: 'up', latencyMs: Math.round((performance.now() - t0) * 100) / 100 };
    } catch {
      return { database: 'down', latencyMs: Math.round(performance.now() - t0) };
    }
  }

  /**
   * Readiness: the database answers within a short time and the data dir takes writes (the disk
   * probe's shared answer, at most `PROBE_CACHE_MS` old; the database is asked every time).
   */
  async function check(): Promise<HealthCheck> {
    // A disk that hangs (a dead network mount) answers as unavailable instead of hanging health.
    const [db, storage] = await Promise.all([pingDatabase(), withinTimeout(disk.probe()).catch((): DiskState => 'unavailable')]);
    return { ok: db.database === 'up' && storage === 'ok', ...db, storage };
  }

  function liveness() {
    return { status: 'ok' as const, version: VERSION, uptimeSeconds: Math.floor((clock.now() - startedAt) / 1000) };
  }

  return { check, liveness, dialect: database.dialect };
}
