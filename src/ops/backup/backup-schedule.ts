import { Cron } from 'croner';
import type { BackupService } from './backup.service.js';

export interface ScheduleLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * PLAZA_BACKUP_SCHEDULE: backups on a cron schedule (croner; the expression was checked at start
 * by config.ts). A run still going when the next is due is not doubled (`protect`); each run keeps
 * PLAZA_BACKUP_KEEP archives. Returns the stop function.
 */
/** Runs a job unless another instance of the cluster runs this slot's (see Cluster.once). */
export type RunOnce = (name: string, holdMs: number, job: () => Promise<void>) => Promise<boolean>;

export function scheduleBackups(
  backups: Pick<BackupService, 'create'>,
  schedule: string,
  log: ScheduleLog,
  once: RunOnce = async (_name, _holdMs, job) => (await job(), true),
): () => void {
  const job = new Cron(schedule, { protect: true, unref: true }, async (self: Cron) => {
    // One instance per slot: the first to fire holds the lock until just before the next run.
    const next = self.msToNext() ?? 60_000;
    await once('scheduled-backup', Math.max(1000, next - 1000), async () => {
      try {
        const r = await backups.create({ by: { ip: 'schedule' } });
        log.info({ archive: r.name, bytes: r.size, durationMs: r.durationMs }, 'Scheduled backup written');
      } catch (err) {
        log.error({ err }, 'Scheduled backup failed');
      }
    });
  });
  return () => job.stop();
}
