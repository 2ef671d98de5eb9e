import { createAccountsService } from './accounts/accounts.service.js';
import { createElevationService } from './accounts/elevation.service.js';
import { createPasswordHasher } from './accounts/passwords.js';
import { createRateLimits } from './accounts/rate-limits.js';
import { announcingSessionCache, type Revocations } from './accounts/revocations.js';
import { createSessionCache } from './accounts/session-cache.js';
import { createSetupService } from './accounts/setup.service.js';
import { createTokenSigner } from './accounts/tokens.js';
import { createUsersService } from './accounts/users.service.js';
import { type ChatBus, createLocalBus } from './chat/bus.js';
import { type ChatService, createChatService } from './chat/chat.service.js';
import { type Cluster, joinCluster } from './cluster/cluster.js';
import { linkPresence, presenceWire } from './cluster/presence-link.js';
import { checkUploadsMarker } from './cluster/uploads-marker.js';
import type { Config } from './config.js';
import { connectDatabase, type Database, waitForDatabase } from './db/connect.js';
import { migrateToLatest } from './db/migrations/index.js';
import { createFilesService, type FilesService } from './files/files.service.js';
import { createSharesService, type SharesService } from './files/shares.service.js';
import { createStorage, type Storage } from './files/storage.js';
import { createThumbnailsService, type ThumbnailsService } from './files/thumbnails.service.js';
import { type BackupService, createBackupService } from './ops/backup/backup.service.js';
import { assertNotRestoring } from './ops/backup/data-dir-lock.js';
import { recoverInterruptedRestore } from './ops/backup/restore-journal.js';
import { createDiskGuard, type DiskGuard } from './ops/disk.js';
import { createHealthService } from './ops/health.service.js';
import { type AuditLog, createAuditLog } from './ops/audit/audit.service.js';
import { type ConsoleService, createConsoleService } from './ops/console/console.service.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { type Clock, systemClock } from './shared/clock.js';

/**
 * The whole core, wired by hand: database, repositories (inside the services), services.
 * Transports (http/, compat/, CLI) receive this object; tests build the same graph on a temp dir.
 */
export interface Core {
  config: Readonly<Config>;
  database: Database;
  clock: Clock;
  accounts: ReturnType<typeof createAccountsService>;
  users: ReturnType<typeof createUsersService>;
  elevation: ReturnType<typeof createElevationService>;
  setup: ReturnType<typeof createSetupService>;
  health: ReturnType<typeof createHealthService>;
  /** The data dir's disk: its reserve for writes that free space (deletes), and a write probe. */
  disk: DiskGuard;
  storage: Storage;
  files: FilesService;
  shares: SharesService;
  thumbnails: ThumbnailsService;
  bus: ChatBus;
  chat: ChatService;
  /** Session and user changes as they are written, here and (with a cluster) on every instance. */
  revocations: Revocations;
  /** Several instances (PLAZA_REDIS_URL): what they share through Redis. */
  cluster?: Cluster;
  /** Backups of this data dir (ops/backup/): written while serving, listed, removed. */
  backups: BackupService;
  /** The audit log (ops/audit/): every service records into it; admins read it. */
  audit: AuditLog;
  /** The admin database console (ops/console/, decision 0009). */
  console: ConsoleService;
  /** Prometheus metrics, when PLAZA_METRICS_TOKEN turns them on. */
  metrics?: Metrics;
  close(): Promise<void>;
}

export interface CoreOptions {
  secret: string;
  clock?: Clock;
  /** Apply migrations before returning (serve does; CLI verbs that only read may skip). */
  migrate?: boolean;
  /** Remove leftovers of interrupted uploads: only the serving process may (others could race it). */
  cleanTemp?: boolean;
  /** How long to wait for an unreachable database before giving up (serve: a PostgreSQL still starting). */
  waitForDatabaseMs?: number;
  /** Told once when that wait begins. */
  onDatabaseWait?: (err: unknown) => void;
}

export async function buildCore(config: Readonly<Config>, options: CoreOptions): Promise<Core> {
  const clock = options.clock ?? systemClock;
  // A restore running on this data dir owns it until it is done.
  assertNotRestoring(config.dataDir);
  const database = await connectDatabase(config);
  try {
    if (options.waitForDatabaseMs) await waitForDatabase(database, options.waitForDatabaseMs, options.onDatabaseWait);
    if (options.migrate !== false) {
      await migrateToLatest(database.db);
      // A restore a kill interrupted is finished or undone before anything reads the data.
      await recoverInterruptedRestore(database, config.dataDir);
    }
  } catch (err) {
    await database.close();
    throw err;
  }
  let cluster: Cluster | undefined;
  try {
    if (config.redisUrl) cluster = await joinCluster(config.redisUrl, database);
  } catch (err) {
    await database.close();
    throw err;
  }
  const audit = createAuditLog({ database, clock, retentionDays: config.audit.retentionDays });
  const hasher = createPasswordHasher(config.argon2);
  const signer = createTokenSigner(options.secret, config.accessTokenTtlSeconds);
  const rateLimits = createRateLimits(config.rateLimits, {
    maxKeys: config.rateLimitMaxKeys,
    ...(cluster ? { shared: { client: cluster.link.cmd, prefix: cluster.link.prefix } } : {}),
  });
  const relay = cluster?.signals;
  const { cache: sessionCache, revocations } = announcingSessionCache(
    createSessionCache(clock),
    relay ? (r) => relay.publish('sessionId' in r ? { kind: 'session-ended', sessionId: r.sessionId } : { kind: 'user-changed', userId: r.userId }) : undefined,
  );
  relay?.on((signal) => {
    if (signal.kind === 'session-ended') revocations.receive({ sessionId: signal.sessionId });
    else if (signal.kind === 'user-changed') revocations.receive({ userId: signal.userId });
  });
  const accounts = createAccountsService({ database, config, hasher, signer, rateLimits, clock, sessionCache, audit });
  const users = createUsersService({ database, config, hasher, clock, sessionCache, rateLimits, audit });
  const elevation = createElevationService({ database, rateLimits, clock, audit });
  const setup = createSetupService({ database, accounts, users, clock });
  const disk = createDiskGuard(config.dataDir, config.diskReserveBytes, clock);
  await disk.removeStaleProbes();
  await disk.refill();
  const health = createHealthService({ database, clock, disk });
  const storage = createStorage(config.dataDir, { directIo: config.uploadDirectIo });
  await storage.init(options.cleanTemp === true);
  if (cluster) await checkUploadsMarker(storage.root, cluster.id, cluster.uploadsRecord).catch(async (err) => {
    await cluster?.close();
    await database.close();
    throw err;
  });
  const files = createFilesService({ database, storage, config, clock, disk });
  const shares = createSharesService({ database, filesService: files, clock, audit });
  const thumbnails = createThumbnailsService({ storage, files });
  const bus = cluster?.bus ?? createLocalBus();
  const chat = createChatService({
    database,
    config,
    users,
    files,
    clock,
    bus,
    ...(cluster ? { sequenced: true, cluster: { instance: cluster.instanceId, wire: presenceWire(cluster.signals) } } : {}),
  });
  const stopPresence = cluster ? linkPresence(cluster.link, cluster.signals, cluster.instanceId, chat) : () => {};
  files.grantReads((fileId, userId) => chat.rooms.fileSharedWith(fileId, userId));
  if (options.migrate !== false) await chat.messages.recoverFromLostCommits();
  const backups = createBackupService({ database, storage, dataDir: config.dataDir, clock, keep: config.backup.keep, audit });
  const dbConsole = createConsoleService({ database, config, elevation, audit, clock });
  const metrics = config.metricsToken
    ? createMetrics({
        clock,
        lastBackupAt: () => backups.lastBackupAt(),
        chatConnections: () => chat.connectionCount(),
        chatCounts: () => chat.messageCounts(),
        databaseUp: () => database.available(),
      })
    : undefined;
  if (metrics) database.observeQueries((ms, failed) => metrics.observeQuery(ms, failed));
  return {
    config,
    database,
    clock,
    accounts,
    users,
    elevation,
    setup,
    health,
    disk,
    storage,
    files,
    shares,
    thumbnails,
    bus,
    chat,
    revocations,
    ...(cluster ? { cluster } : {}),
    backups,
    audit,
    console: dbConsole,
    ...(metrics ? { metrics } : {}),
    async close() {
      stopPresence();
      chat.close();
      await dbConsole.close().catch(() => {});
      await chat.messages.drain();
      await bus.close();
      await audit.flush().catch(() => {});
      await cluster?.close();
      await database.close();
    },
  };
}
