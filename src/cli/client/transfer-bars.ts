import { humanSize, printable } from './format.js';

/** One transfer's progress: bytes done so far (absolute, a resumed transfer starts above 0). */
export interface TransferBar {
  update(done: number): void;
  done(): void;
}

export interface TransferBars {
  add(name: string, size: number, startAt?: number): TransferBar;
  stop(): void;
}

const NONE: TransferBars = { add: () => ({ update() {}, done() {} }), stop() {} };

/** Bars are redrawn at most this often: a transfer reports every socket read (~30,000 per GiB). */
const REDRAW_MS = 100;

/** A speed over the last few seconds, in bytes per second (a sample per redraw, not per call). */
function speedometer() {
  const samples: Array<[number, number]> = [];
  return (done: number) => {
    const now = Date.now();
    samples.push([now, done]);
    while (samples.length > 2 && now - (samples[0] as [number, number])[0] > 5000) samples.shift();
    const [t0, d0] = samples[0] as [number, number];
    return now > t0 ? ((done - d0) * 1000) / (now - t0) : 0;
  };
}

const eta = (left: number, speed: number) => {
  if (speed <= 0) return '--:--';
  const s = Math.round(left / speed);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/**
 * Progress bars on stderr (cli-progress), one per file and a total when there are several, with
 * speed and ETA; nothing at all when stderr is not a terminal or for --json (`enabled` false).
 */
export async function transferBars(enabled: boolean, totalBytes: number, files: number): Promise<TransferBars> {
  if (!enabled) return NONE;
  // Loaded only when there are bars to draw: a script's run (or whoami) starts without it.
  const { default: cliProgress } = await import('cli-progress');
  const multi = new cliProgress.MultiBar(
    {
      format: '{label} [{bar}] {percentage}% {doneH}/{sizeH} {speedH}/s ETA {etaH}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      stream: process.stderr,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = (label: string, done: number, size: number, speed: number) => ({
    label,
    doneH: humanSize(done),
    sizeH: humanSize(size),
    speedH: humanSize(Math.round(speed)),
    etaH: eta(size - done, speed),
  });
  let totalDone = 0;
  const totalSpeed = speedometer();
  const total = files > 1 ? multi.create(Math.max(totalBytes, 1), 0, payload('total'.padEnd(24), 0, totalBytes, 0)) : undefined;
  return {
    add(name, size, startAt = 0) {
      const label = printable(name).slice(0, 24).padEnd(24);
      const speed = speedometer();
      const bar = multi.create(Math.max(size, 1), startAt, payload(label, startAt, size, 0));
      let last = startAt;
      let drawnAt = 0;
      totalDone += startAt;
      return {
        update(done) {
          totalDone += done - last;
          last = done;
          const now = Date.now();
          if (now - drawnAt < REDRAW_MS) return;
          drawnAt = now;
          bar.update(done, payload(label, done, size, speed(done)));
          total?.update(totalDone, payload('total'.padEnd(24), totalDone, totalBytes, totalSpeed(totalDone)));
        },
        done() {
          // The last speed stays on a finished bar (not "0 B/s"), its ETA 0:00.
          bar.update(Math.max(size, 1), payload(label, size, size, speed(size)));
        },
      };
    },
    stop() {
      multi.stop();
    },
  };
}
