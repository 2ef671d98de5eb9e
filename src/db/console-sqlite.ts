import { type ChildProcess, fork } from 'node:child_process';
import { AppError } from '../shared/errors.js';
import { CONSOLE_BATCH, type ConsoleChunk, type ConsoleRunner, type ConsoleStatement } from './console-runner.js';
import type { WorkerReply, WorkerRequest } from './console-worker.js';

/**
 * The console worker's module, console-worker.ts, built by scripts/build.mjs into
 * dist/console-worker.mjs beside the bundle. Run from source (vitest), it is the same built file,
 * which the test run builds first (test/global-setup.mjs).
 */
const WORKER_MODULE = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/console-worker.mjs', import.meta.url)
  : new URL('./console-worker.mjs', import.meta.url);

/** An idle worker process goes after this (the next query starts another, ~0.1 s). */
const IDLE_MS = 120_000;

/**
 * SQLite console queries in a child process, one at a time (others wait their turn): a query
 * past its timeout gets the process killed (SIGKILL), which is the only way to stop a statement
 * inside better-sqlite3; the next query forks a new one. A write's transaction dies with it.
 */
export function createSqliteConsole(file: string): ConsoleRunner {
  let child: ChildProcess | undefined;
  let idle: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  function spawn(): ChildProcess {
    const c = fork(WORKER_MODULE, [file], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: [], serialization: 'advanced' });
    c.on('error', () => {});
    c.on('exit', () => {
      if (child === c) child = undefined;
    });
    return c;
  }

  function kill(c: ChildProcess) {
    if (child === c) child = undefined;
    c.kill('SIGKILL');
  }

  /** One statement's replies as chunks; the worker is killed at the deadline or on a failure. */
  async function* execute(s: ConsoleStatement): AsyncGenerator<ConsoleChunk> {
    if (closed) throw new AppError('SHUTTING_DOWN', 'The server is stopping');
    clearTimeout(idle);
    const c = child ?? spawn();
    child = c;
    const replies: (WorkerReply | { type: 'exit' })[] = [];
    let wake: (() => void) | undefined;
    const push = (m: WorkerReply | { type: 'exit' }) => {
      replies.push(m);
      wake?.();
    };
    const onMessage = (m: WorkerReply) => push(m);
    const onExit = () => push({ type: 'exit' });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill(c);
    }, s.timeoutMs);
    c.on('message', onMessage);
    c.on('exit', onExit);
    let finished = false;
    try {
      c.send({ type: 'run', sql: s.sql, write: s.write, maxRows: s.maxRows } satisfies WorkerRequest);
      for (;;) {
        while (replies.length === 0) await new Promise<void>((r) => (wake = r));
        const m = replies.shift() as WorkerReply | { type: 'exit' };
        if (m.type === 'exit') {
          if (timedOut) throw new AppError('QUERY_TIMEOUT', `The query ran past ${s.timeoutMs} ms and was stopped (PLAZA_CONSOLE_TIMEOUT_MS)`);
          throw new AppError('QUERY_FAILED', 'The console process stopped unexpectedly');
        }
        if (m.type === 'error') throw new AppError('QUERY_FAILED', m.message);
        if (m.type === 'columns') yield { kind: 'columns', columns: m.columns };
        else if (m.type === 'rows') {
          yield { kind: 'rows', rows: m.rows as never };
          if (m.rows.length === CONSOLE_BATCH) c.send({ type: 'more' } satisfies WorkerRequest);
        } else {
          finished = true;
          yield { kind: 'end', truncated: m.truncated, changes: m.changes };
          return;
        }
      }
    } finally {
      clearTimeout(timer);
      c.off('message', onMessage);
      c.off('exit', onExit);
      // A consumer that stopped reading early (or a failure) leaves the worker mid-statement.
      if (!finished && child === c) kill(c);
      if (child) {
        idle = setTimeout(() => child && kill(child), IDLE_MS);
        idle.unref();
      }
    }
  }

  return {
    run(s) {
      const turn = queue;
      let release: () => void = () => {};
      queue = new Promise<void>((r) => (release = r));
      return (async function* () {
        try {
          await turn;
          yield* execute(s);
        } finally {
          release();
        }
      })();
    },
    async close() {
      closed = true;
      clearTimeout(idle);
      if (child) kill(child);
    },
  };
}
