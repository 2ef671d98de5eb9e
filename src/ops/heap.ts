import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full GC found alive, in percent:
 * 200 means the next full GC comes at 3× the live heap.
 *
 * Why: every chunk of a request body reaches JavaScript as a fresh 64 KiB buffer (Node's HTTP
 * parser copies it), so a fast upload leaves some 32 MiB of young, already-dead buffers between
 * two scavenges. V8 counts that memory against the old generation's headroom until the buffers
 * are swept, and with its own growth factor (about 1.7× a 22 MiB live heap here) the headroom is
 * smaller than that: every ~26 MiB of upload started a full mark-compact, some 40 per GiB, which
 * cost a third of the server's CPU per upload. At 3× the headroom absorbs them, and uploads run
 * without full GCs. Idle memory barely moves (V8's memory reducer still shrinks an idle heap); see
 * docs/decisions/0002-heap-growth.md for the measurements.
 */
export const HEAP_GROWING_PERCENT = 200;

/** Applies the server's heap growth, unless node was started with its own `--heap-growing-percent`. */
export function tuneHeapForStreaming(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
