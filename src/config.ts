import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Cron } from 'croner';
import { readAudit, readConsole } from './config-ops.js';
import type { Config, RateRule } from './config-types.js';
import { recordingEnv, unknownSettings } from './config-unknown.js';

/**
 * The only reader of process.env. Every setting is validated at start and every problem is
 * reported at once; the result is frozen.
 */

export type { Config, RateRule, RegistrationMode } from './config-types.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Hard cap on bearer token lifetime: a leaked token must not live for days. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 24 * 3600;
/**
 * OWASP's argon2id rows of equal strength: the least memory (KiB) allowed for each pass count.
 * More passes than 5 still need 7168 KiB.
 */
export const ARGON2_OWASP_MIN_MEMORY: Record<number, number> = { 1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168 };

type Env = Record<string, string | undefined>;

/** Reads `.env` from `cwd` (if present) under the real environment, which wins. */
export function readEnv(cwd = process.cwd(), env: Env = process.env): Env {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...env };
}

type Problems = string[];

/** Typed readers of one environment; every bad value is added to `problems`. */
function envReaders(env: Env, problems: Problems) {
  const str = (name: string) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) {
      problems.push(`${name} must be a whole number (got "${raw}")`);
      return fallback;
    }
    const n = Number(raw);
    if (n < min || n > max) problems.push(`${name} must be between ${min} and ${max} (got ${n})`);
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return fallback;
  };
  const rate = (name: string, fallback: RateRule): RateRule => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const m = /^(\d+)\/(\d+)(s|m|h)$/.exec(raw);
    if (!m) {
      problems.push(`${name} must look like 10/1m (count/window with s, m or h; got "${raw}")`);
      return fallback;
    }
    const unit = { s: 1, m: 60, h: 3600 }[m[3] as 's' | 'm' | 'h'];
    const rule = { points: Number(m[1]), durationSeconds: Number(m[2]) * unit };
    if (rule.points < 1 || rule.durationSeconds < 1) problems.push(`${name} must allow at least 1 per window`);
    return rule;
  };
  return { env, problems, str, int, bool, oneOf, rate };
}

export type Readers = ReturnType<typeof envReaders>;

function readDatabase({ str, oneOf, problems }: Readers, dataDir: string): Config['database'] {
  let database: Config['database'] = { kind: 'sqlite', file: path.join(dataDir, 'plaza.db') };
  const dbUrl = str('PLAZA_DATABASE_URL');
  const schema = str('PLAZA_DATABASE_SCHEMA');
  if (dbUrl !== undefined) {
    if (/^postgres(ql)?:\/\//.test(dbUrl)) {
      if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
        problems.push('PLAZA_DATABASE_SCHEMA must be a lower-case SQL identifier');
      }
      database = { kind: 'postgres', url: dbUrl, ...(schema ? { schema } : {}) };
    } else if (dbUrl.startsWith('sqlite:')) {
      const file = dbUrl.slice('sqlite:'.length).replace(/^\/\//, '');
      if (file === '') problems.push('PLAZA_DATABASE_URL sqlite: needs a file path');
      database = { kind: 'sqlite', file: path.resolve(file) };
    } else {
      problems.push('PLAZA_DATABASE_URL must start with postgres://, postgresql:// or sqlite:');
    }
  }
  const synchronous = oneOf('PLAZA_SQLITE_SYNCHRONOUS', ['full', 'normal'], 'full');
  if (database.kind === 'sqlite' && synchronous !== 'full') database = { ...database, synchronous };
  return database;
}

const TRUST_ALL = 'PLAZA_TRUST_PROXY must name the proxies (a hop count such as 1, or their addresses/networks such as 10.0.0.0/8,127.0.0.1), not every hop: trusting every hop lets any client spoof its address past the per-address caps and login throttling';

/** PLAZA_TRUST_PROXY: off, a hop count (1-10), or a comma-separated list of addresses and CIDRs. */
function readTrustProxy({ str, problems }: Readers): Config['trustProxy'] {
  const raw = str('PLAZA_TRUST_PROXY')?.toLowerCase();
  if (raw === undefined || ['0', 'false', 'no', 'off'].includes(raw)) return false;
  if (['true', 'yes', 'on'].includes(raw)) {
    problems.push(TRUST_ALL);
    return false;
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops <= 10) return hops;
    problems.push(`PLAZA_TRUST_PROXY must be a hop count of at most 10 or a list of addresses (got "${raw}")`);
    return false;
  }
  const entries = raw.split(',').map((e) => e.trim());
  const all = entries.find((e) => e === '*' || /^(0\.0\.0\.0|::)\/0$/.test(e));
  if (all !== undefined) {
    problems.push(TRUST_ALL);
    return false;
  }
  const bad = entries.find((e) => {
    const [address = '', prefix, extra] = e.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return true;
    return prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
  if (bad !== undefined) {
    problems.push(`PLAZA_TRUST_PROXY must be a hop count or comma-separated IP addresses/CIDRs (got "${bad}")`);
    return false;
  }
  return entries;
}

function readServer(r: Readers) {
  const { str, int, oneOf, bool, problems } = r;
  const dataDir = path.resolve(str('PLAZA_DATA_DIR') ?? './data');
  const publicUrl = str('PLAZA_PUBLIC_URL');
  if (publicUrl !== undefined) {
    try {
      const u = new URL(publicUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      problems.push(`PLAZA_PUBLIC_URL must be an http(s) URL (got "${publicUrl}")`);
    }
  }
  const secret = str('PLAZA_SECRET');
  const trustProxy = readTrustProxy(r);
  const database = readDatabase(r, dataDir);
  const redisUrl = str('PLAZA_REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/./.test(redisUrl)) problems.push(`PLAZA_REDIS_URL must start with redis:// or rediss:// (got "${redisUrl}")`);
  // Several instances share one database: a SQLite file cannot be that (docs/deployment.md).
  if (redisUrl !== undefined && database.kind !== 'postgres') {
    problems.push('PLAZA_REDIS_URL runs several instances, which need a shared PostgreSQL: set PLAZA_DATABASE_URL=postgres://… too');
  }
  return {
    host: str('PLAZA_HOST') ?? '127.0.0.1',
    port: int('PLAZA_PORT', 8080, 0, 65535),
    dataDir,
    database,
    ...(redisUrl ? { redisUrl } : {}),
    ...(publicUrl ? { publicUrl: publicUrl.replace(/\/+$/, '') } : {}),
    ...(secret ? { secret } : {}),
    logLevel: oneOf('PLAZA_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    trustProxy,
    trustProxyEnabled: trustProxy !== false,
    connectionLogin: bool('PLAZA_CONNECTION_LOGIN', true),
  };
}

function readPasswords({ int, env, str, problems }: Readers) {
  const adminUsername = str('PLAZA_ADMIN_USERNAME');
  const adminPassword = env.PLAZA_ADMIN_PASSWORD;
  if ((adminUsername === undefined) !== (adminPassword === undefined || adminPassword === '')) {
    problems.push('PLAZA_ADMIN_USERNAME and PLAZA_ADMIN_PASSWORD must be set together');
  }
  const adminEmail = str('PLAZA_ADMIN_EMAIL');

  const minLength = int('PLAZA_PASSWORD_MIN_LENGTH', 8, 8, 128);
  const maxLength = int('PLAZA_PASSWORD_MAX_LENGTH', 128, 8, 1024);
  if (minLength > maxLength) problems.push('PLAZA_PASSWORD_MIN_LENGTH must not exceed PLAZA_PASSWORD_MAX_LENGTH');

  const memoryKiB = int('PLAZA_ARGON2_MEMORY_KIB', 7168, 7168, 4 * 1024 * 1024);
  const timeCost = int('PLAZA_ARGON2_TIME_COST', 5, 1, 100);
  const minMemory = ARGON2_OWASP_MIN_MEMORY[Math.min(timeCost, 5)] ?? 7168;
  if (memoryKiB < minMemory) {
    problems.push(
      `PLAZA_ARGON2_MEMORY_KIB must be at least ${minMemory} with PLAZA_ARGON2_TIME_COST=${timeCost} (OWASP minimum)`,
    );
  }
  // argon2 runs on libuv's thread pool, which file I/O shares: one thread is left to it.
  const threadPool = Number(str('UV_THREADPOOL_SIZE') ?? 4) || 4;
  const concurrency = int('PLAZA_ARGON2_CONCURRENCY', Math.max(1, Math.min(availableParallelism(), threadPool - 1)), 1, 1024);
  const queue = int('PLAZA_ARGON2_QUEUE', 64, 0, 100_000);
  return {
    ...(adminUsername && adminPassword
      ? { admin: { username: adminUsername, password: adminPassword, ...(adminEmail ? { email: adminEmail } : {}) } }
      : {}),
    password: { minLength, maxLength },
    argon2: { memoryKiB, timeCost, concurrency, queue },
  };
}

function readAccounts(r: Readers, publicUrl: string | undefined) {
  const { int, bool, oneOf, rate } = r;
  return {
    registration: oneOf('PLAZA_REGISTRATION', ['open', 'closed'], 'open'),
    ...readPasswords(r),
    accessTokenTtlSeconds: int('PLAZA_ACCESS_TOKEN_TTL', 1800, 60, MAX_ACCESS_TOKEN_TTL_SECONDS),
    refreshTokenTtlSeconds: int('PLAZA_REFRESH_TOKEN_TTL', 30 * 86400, 300, 365 * 86400),
    refreshReuseGraceSeconds: int('PLAZA_REFRESH_REUSE_GRACE_SECONDS', 30, 0, 300),
    sessionIdleSeconds: int('PLAZA_SESSION_IDLE_TTL', 7 * 86400, 60, 365 * 86400),
    sessionAbsoluteSeconds: int('PLAZA_SESSION_ABSOLUTE_TTL', 30 * 86400, 60, 365 * 86400),
    cookieSecure: bool('PLAZA_COOKIE_SECURE', publicUrl?.startsWith('https:') ?? false),
    rateLimits: {
      loginPerIp: rate('PLAZA_RATE_LOGIN_IP', { points: 30, durationSeconds: 60 }),
      loginFailuresPerIp: rate('PLAZA_RATE_LOGIN_FAIL_IP', { points: 100, durationSeconds: 3600 }),
      loginPerAccountIp: rate('PLAZA_RATE_LOGIN_ACCOUNT_IP', { points: 10, durationSeconds: 900 }),
      loginPerAccount: rate('PLAZA_RATE_LOGIN_ACCOUNT', { points: 100, durationSeconds: 3600 }),
      registerPerIp: rate('PLAZA_RATE_REGISTER_IP', { points: 10, durationSeconds: 3600 }),
      elevatePerAccount: rate('PLAZA_RATE_ELEVATE_ACCOUNT', { points: 10, durationSeconds: 3600 }),
      elevatePerIp: rate('PLAZA_RATE_ELEVATE_IP', { points: 30, durationSeconds: 3600 }),
    },
    rateLimitMaxKeys: int('PLAZA_RATE_LIMIT_MAX_KEYS', 100_000, 1000, 10_000_000),
  };
}

function readFiles({ int, bool }: Readers) {
  return {
    bodyLimitBytes: int('PLAZA_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxUploadBytes: int('PLAZA_MAX_UPLOAD_BYTES', 2 * 1024 ** 3, 1, 2 ** 50),
    userQuotaBytes: int('PLAZA_USER_QUOTA_BYTES', 10 * 1024 ** 3, 0, 2 ** 50),
    uploadDirectIo: bool('PLAZA_UPLOAD_DIRECT_IO', true),
    diskReserveBytes: int('PLAZA_DISK_RESERVE_BYTES', 8 * 1024 * 1024, 0, 1024 ** 3),
  };
}

function readChat({ int, bool }: Readers): Config['chat'] {
  return {
    guests: bool('PLAZA_GUEST_CHAT', false),
    presenceGraceSeconds: int('PLAZA_PRESENCE_GRACE_SECONDS', 30, 0, 3600),
    framesPer10s: int('PLAZA_CHAT_FRAMES_PER_10S', 200, 1, 1_000_000),
    maxBufferedBytes: int('PLAZA_CHAT_MAX_BUFFERED_BYTES', 4 * 1024 * 1024, 64 * 1024, 1024 ** 3),
    heartbeatSeconds: int('PLAZA_CHAT_HEARTBEAT_SECONDS', 30, 1, 3600),
    maxSocketsPerUser: int('PLAZA_CHAT_MAX_SOCKETS_PER_USER', 50, 1, 100_000),
  };
}

function readConnections({ int, problems }: Readers): Config['connections'] {
  const connections = {
    max: int('PLAZA_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    maxPerIp: int('PLAZA_MAX_CONNECTIONS_PER_IP', 1000, 1, 1_000_000),
    keepAliveSeconds: int('PLAZA_KEEP_ALIVE_SECONDS', 75, 1, 86_400),
    seedKeepAliveSeconds: int('PLAZA_SEED_KEEP_ALIVE_SECONDS', 900, 1, 86_400),
    tcpMaxPerIp: int('PLAZA_TCP_MAX_CONNECTIONS_PER_IP', 64, 1, 1_000_000),
    headersTimeoutSeconds: int('PLAZA_HEADERS_TIMEOUT_SECONDS', 10, 1, 300),
    bodyTimeoutSeconds: int('PLAZA_BODY_TIMEOUT_SECONDS', 30, 1, 3600),
    uploadMinBytesPerSecond: int('PLAZA_UPLOAD_MIN_BYTES_PER_SECOND', 1024, 0, 1024 ** 3),
    uploadRateWindowSeconds: int('PLAZA_UPLOAD_RATE_WINDOW_SECONDS', 30, 1, 3600),
  };
  if (connections.maxPerIp > connections.max) {
    problems.push('PLAZA_MAX_CONNECTIONS_PER_IP must not exceed PLAZA_MAX_CONNECTIONS');
  }
  return connections;
}

/** The raw TCP front doors, off unless their port is set. */
function readDoors({ str, int, bool, problems }: Readers) {
  const optionalPort = (name: string): number | undefined => (str(name) === undefined ? undefined : int(name, 0, 0, 65535));
  const netclassPort = optionalPort('PLAZA_NETCLASS_PORT');
  const tcpchatPort = optionalPort('PLAZA_TCPCHAT_PORT');
  const tcpchatRoom = str('PLAZA_TCPCHAT_ROOM') ?? 'lobby';
  if (!/^[\p{L}\p{N}_.-]{1,64}$/u.test(tcpchatRoom)) {
    problems.push(`PLAZA_TCPCHAT_ROOM must be 1-64 letters, digits, "_", "." or "-" (got "${tcpchatRoom}")`);
  }
  const autoRegister = bool('PLAZA_TCPCHAT_AUTO_REGISTER', false);
  return {
    ...(netclassPort !== undefined ? { netclassPort } : {}),
    ...(tcpchatPort !== undefined ? { tcpchat: { port: tcpchatPort, room: tcpchatRoom, autoRegister } } : {}),
  };
}

/** PLAZA_BACKUP_SCHEDULE (cron syntax, checked by croner, off by default) and PLAZA_BACKUP_KEEP. */
function readBackup({ str, int, problems }: Readers): Config['backup'] {
  const schedule = str('PLAZA_BACKUP_SCHEDULE');
  if (schedule !== undefined) {
    try {
      new Cron(schedule, { paused: true }).stop();
    } catch (err) {
      problems.push(`PLAZA_BACKUP_SCHEDULE must be a cron expression such as "0 3 * * *" (got "${schedule}": ${(err as Error).message})`);
    }
  }
  const crash = str('PLAZA_TEST_CRASH_AT');
  return {
    ...(schedule !== undefined ? { schedule } : {}),
    keep: int('PLAZA_BACKUP_KEEP', 7, 0, 100_000),
    ...(crash !== undefined ? { testCrashAt: crash } : {}),
  };
}

function readMetrics({ str, problems }: Readers) {
  const token = str('PLAZA_METRICS_TOKEN');
  if (token !== undefined && token.length < 16) problems.push('PLAZA_METRICS_TOKEN must be at least 16 characters (a random string)');
  return token !== undefined ? { metricsToken: token } : {};
}

export function loadConfig(env: Env = readEnv()): Readonly<Config> {
  const seen = new Set<string>();
  const r = envReaders(recordingEnv(env, seen), []);
  const server = readServer(r);
  const config: Config = {
    ...server,
    ...readFiles(r),
    ...readAccounts(r, server.publicUrl),
    chat: readChat(r),
    connections: readConnections(r),
    backup: readBackup(r),
    console: readConsole(r),
    audit: readAudit(r),
    ...readMetrics(r),
    ...readDoors(r),
  };
  if (config.sessionIdleSeconds > config.sessionAbsoluteSeconds) {
    r.problems.push('PLAZA_SESSION_IDLE_TTL must not exceed PLAZA_SESSION_ABSOLUTE_TTL');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  const warnings = unknownSettings(env, seen);
  if (warnings.length > 0) config.warnings = warnings;
  return Object.freeze(config);
}
