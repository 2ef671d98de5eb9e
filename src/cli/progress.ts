import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const MiB = 1024 * 1024;

/** A byte progress bar (cli-progress) on a terminal; nothing when stdout is not one or for --json. */
export function progressBar(label: string, enabled: boolean): Progress {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB`, hideCursor: true, stream: process.stdout },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      const payload = { doneMiB: (done / MiB).toFixed(1), totalMiB: (total / MiB).toFixed(1) };
      if (!started) {
        bar.start(Math.max(total, 1), 0, payload);
        started = true;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(Math.min(done, Math.max(total, 1)), payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
