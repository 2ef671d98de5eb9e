import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildCore, type Core } from '../../app.js';
import { type NetclassDoor, startNetclassDoor } from '../../compat/netclass/door.js';
import { startTcpChatDoor } from '../../compat/tcpchat/door.js';
import type { Config } from '../../config.js';
import { buildServer } from '../../server.js';
import { scheduleBackups } from '../../ops/backup/backup-schedule.js';
import { assertNotRestoring, markServing } from '../../ops/backup/data-dir-lock.js';
import { tuneHeapForStreaming } from '../../ops/heap.js';
import { loadOrCreateSecret } from '../../ops/secret.js';

export interface RunningServer {
  app: FastifyInstance;
  core: Core;
  url: string;
  /** Printed once at first start when no admin exists. */
  setupUrl?: string;
  /** Seed 001's raw TCP front door, when PLAZA_NETCLASS_PORT is set (the bound port). */
  netclassPort?: number;
  /** Seed 003's raw TCP chat door, when PLAZA_TCPCHAT_PORT is set (the bound port). */
  tcpchatPort?: number;
  close(): Promise<void>;
}

/** How long serve waits for a database that is not up yet (PostgreSQL starting beside it). */
const DATABASE_WAIT_MS = 30_000;

/**
 * The hourly housekeeping (ended sessions, orphan files, kept deletes, old audit entries) and scheduled backups. With
 * several instances one of them runs each (a lock in Redis), not all at once. Returns the stop function.
 */
function startJobs(core: Core, log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void }): () => void {
  const housekeeping = () => {
    const sweep = async () => {
      // And PLAZA_AUDIT_RETENTION_DAYS: older audit entries go.
      await Promise.allSettled([core.accounts.purgeEnded(), core.files.sweepOrphans(), core.storage.purgeKept(), core.audit.sweep()]);
    };
    void (core.cluster ? core.cluster.once('housekeeping', 3_000_000, sweep) : sweep()).catch(() => {});
  };
  const schedule = core.config.backup.schedule;
  const stopSchedule = schedule ? scheduleBackups(core.backups, schedule, log, core.cluster ? core.cluster.once : undefined) : () => {};
  const firstSweep = setTimeout(housekeeping, 60_000);
  firstSweep.unref();
  const sweeper = setInterval(housekeeping, 3600_000);
  sweeper.unref();
  return () => {
    clearTimeout(firstSweep);
    clearInterval(sweeper);
    stopSchedule();
  };
}

/** Starts Plaza: data dir, secret, migrations, first admin, HTTP listener. */
export async function startServer(
  config: Readonly<Config>,
  log: (line: string) => void = () => {},
): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { secret, created } = loadOrCreateSecret(config.dataDir, config.secret);
  if (created) log(`Generated a new server secret in ${config.dataDir}/secret (mode 0600).`);
  // The mark a restore looks for (written before looking for a running restore: see data-dir-lock.ts).
  const unmark = markServing(config.dataDir);
  let core: Core;
  try {
    assertNotRestoring(config.dataDir);
    core = await buildCore(config, {
      secret,
      cleanTemp: true,
      waitForDatabaseMs: DATABASE_WAIT_MS,
      onDatabaseWait: () => log(`The database cannot be reached yet; retrying for up to ${DATABASE_WAIT_MS / 1000} s…`),
    });
  } catch (err) {
    unmark();
    throw err;
  }
  let app: FastifyInstance | undefined;
  let netclass: NetclassDoor | undefined;
  let tcpchat: { port: number; connections(): number; close(): Promise<void> } | undefined;
  try {
    const first = await core.setup.ensureFirstAdmin(config.admin);
    app = await buildServer(core);
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const url = config.publicUrl ?? `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
    let setupUrl: string | undefined;
    log(`Plaza is running at ${url}  (API docs: ${url}/docs, database: ${core.database.dialect})`);
    for (const warning of config.warnings ?? []) {
      log(warning);
      app.log.warn(warning);
    }
    if (first.kind === 'created') log(`Created the first admin "${first.user.username}" from PLAZA_ADMIN_USERNAME.`);
    if (first.kind === 'setup-token') {
      setupUrl = `${url}/setup?token=${first.token}`;
      log('No admin exists yet. Create the first admin by opening this one-time link (valid 24 hours):');
      log(`    ${setupUrl}`);
      log('or run:  npm run plaza -- admin create --username <name>');
    }
    if (config.netclassPort !== undefined) {
      const http = app;
      netclass = await startNetclassDoor(core, {
        host: config.host,
        port: config.netclassPort,
        log: (obj, msg) => http.log.error(obj, msg),
        warn: (obj, msg) => http.log.warn(obj, msg),
      });
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      log(`Seed 001 TCP front door on ${host}:${netclass.port}`);
      const door = netclass;
      core.metrics?.countTcpConnectionsWith('seed001', () => door.connections());
    }
    if (config.tcpchat !== undefined) {
      const http = app;
      tcpchat = await startTcpChatDoor(core, {
        host: config.host,
        port: config.tcpchat.port,
        room: config.tcpchat.room,
        autoRegister: config.tcpchat.autoRegister,
        log: (obj, msg) => http.log.error(obj, msg),
        warn: (obj, msg) => http.log.warn(obj, msg),
      });
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      log(`Seed 003 TCP chat door on ${host}:${tcpchat.port} (room "${config.tcpchat.room}")`);
      const door = tcpchat;
      core.metrics?.countTcpConnectionsWith('seed003', () => door.connections());
    }
    const http = app;
    const stopJobs = startJobs(core, { info: (obj, msg) => http.log.info(obj, msg), error: (obj, msg) => http.log.error(obj, msg) });
    const server = app;
    const door = netclass;
    const chatDoor = tcpchat;
    return {
      app: server,
      core,
      url,
      ...(setupUrl ? { setupUrl } : {}),
      ...(door ? { netclassPort: door.port } : {}),
      ...(chatDoor ? { tcpchatPort: chatDoor.port } : {}),
      async close() {
        stopJobs();
        await door?.close();
        await chatDoor?.close();
        await server.close();
        await core.close();
        unmark();
      },
    };
  } catch (err) {
    await netclass?.close().catch(() => {});
    await tcpchat?.close().catch(() => {});
    await app?.close().catch(() => {});
    await core.close();
    unmark();
    throw err;
  }
}

/**
 * What `serve` says on stderr (logs go to stdout): plain lines on a terminal; otherwise one JSON
 * line per event in pino's shape, the start banner whole in one (its facts as fields), so a log
 * collector reads it as one record instead of lines interleaved with the JSON logs.
 */
function announcer(tty: boolean) {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  const record = (level: number, msg: string, fields: object = {}) => write(JSON.stringify({ level, time: Date.now(), msg, ...fields }));
  const lines: string[] = [];
  return {
    line: (l: string) => (tty ? write(l) : lines.push(l.trim())),
    banner(level: number, fields: object) {
      if (tty || lines.length === 0) return;
      record(level, lines.find((l) => l.startsWith('Plaza is running')) ?? lines[0] ?? '', { ...fields, banner: lines.splice(0) });
    },
    note: (msg: string) => (tty ? write(msg) : record(30, msg)),
  };
}

/** `plaza serve`: runs until SIGTERM/SIGINT, then finishes in-flight requests and exits. */
export async function serveCommand(config: Readonly<Config>): Promise<void> {
  tuneHeapForStreaming();
  const say = announcer(process.stderr.isTTY === true);
  let running: RunningServer;
  try {
    running = await startServer(config, say.line);
  } catch (err) {
    say.banner(50, {});
    throw err;
  }
  say.banner(30, {
    url: running.url,
    database: running.core.database.dialect,
    ...(config.warnings ? { warnings: config.warnings } : {}),
    ...(running.setupUrl ? { setupUrl: running.setupUrl } : {}),
    ...(running.netclassPort !== undefined ? { netclassPort: running.netclassPort } : {}),
    ...(running.tcpchatPort !== undefined ? { tcpchatPort: running.tcpchatPort } : {}),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      say.note('Forced exit.');
      process.exit(1);
    }
    stopping = true;
    say.note(`${signal} received: finishing in-flight requests…`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
