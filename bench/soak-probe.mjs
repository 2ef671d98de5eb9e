// Preloaded into the Plaza process by bench/soak.bench.mjs (`node --import <this> dist/plaza.mjs serve`):
// every PLAZA_SOAK_PROBE_MS it appends one JSON line to PLAZA_SOAK_PROBE_FILE with the process's
// memory and the event loop's delay since the last line. Plaza's own code is not changed by it.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.PLAZA_SOAK_PROBE_FILE;
const every = Number(process.env.PLAZA_SOAK_PROBE_MS ?? 5000);

if (file) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      lagP50: ms(delay.percentile(50)),
      lagP99: ms(delay.percentile(99)),
      lagMax: ms(delay.max),
    };
    delay.reset();
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, every).unref();
}
