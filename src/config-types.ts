/** The shape of Plaza's settings, as `loadConfig` (config.ts) validates and freezes them. */

export type RegistrationMode = 'open' | 'closed';

export interface RateRule {
  points: number;
  durationSeconds: number;
}

export interface Config {
  /** What start-up reports but does not refuse (unknown PLAZA_* variables). */
  warnings?: string[];
  host: string;
  port: number;
  dataDir: string;
  database:
    | { kind: 'sqlite'; file: string; synchronous?: 'full' | 'normal'; /** tests: WAL size that triggers a checkpoint */ checkpointBytes?: number }
    | { kind: 'postgres'; url: string; schema?: string };
  publicUrl?: string;
  /** Several instances (PLAZA_REDIS_URL): the chat bus, tickets, rate limits and revocations go through Redis. */
  redisUrl?: string;
  secret?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Which proxies in front may name the client (X-Forwarded-For): a hop count, or the proxies'
   * addresses and networks; false = none. Never "every hop" (any client could name itself).
   */
  trustProxy: false | number | string[];
  /** Whether any proxy is trusted (tus and the per-address caps need only that). */
  trustProxyEnabled: boolean;
  /** Seed 000/001 clients log in once per keep-alive connection; off behind connection-pooling proxies. */
  connectionLogin: boolean;
  bodyLimitBytes: number;
  /** Largest single upload. */
  maxUploadBytes: number;
  /** Default storage quota per user (admins can override per user). */
  userQuotaBytes: number;
  /** Write uploads with O_DIRECT (bypassing the page cache) where the filesystem supports it. */
  uploadDirectIo: boolean;
  /** Space kept in the data dir for deletes on a full disk (see ops/disk.ts); 0 = none. */
  diskReserveBytes: number;
  registration: RegistrationMode;
  admin?: { username: string; password: string; email?: string };
  password: { minLength: number; maxLength: number };
  /**
   * argon2id cost, and how many runs (logins, password changes) may be running and waiting at
   * once; past that, SERVER_BUSY (passwords.ts).
   */
  argon2: { memoryKiB: number; timeCost: number; concurrency: number; queue: number };
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /**
   * A refresh token presented again within this long of its rotation, from the client network
   * that rotated it, is refused without revoking its session (a retry after a lost response).
   */
  refreshReuseGraceSeconds: number;
  sessionIdleSeconds: number;
  sessionAbsoluteSeconds: number;
  cookieSecure: boolean;
  rateLimits: {
    /** Every login attempt from one IP (flood control, before any password is checked). */
    loginPerIp: RateRule;
    /** Failed logins from one IP, whatever the accounts (password spraying). */
    loginFailuresPerIp: RateRule;
    /** Failed logins from one IP against one account (guessing one password). */
    loginPerAccountIp: RateRule;
    /** Failed logins against one account from all IPs; past it, only IPs it logged in from before get through. */
    loginPerAccount: RateRule;
    registerPerIp: RateRule;
    elevatePerAccount: RateRule;
    elevatePerIp: RateRule;
  };
  /** Keys each in-memory limiter holds at most (bounded-limiter.ts). */
  rateLimitMaxKeys: number;
  chat: {
    /** Seed 004's unauthenticated `/ws/{client_id}` guests; off by default. */
    guests: boolean;
    /** How long a dropped connection's user stays "disconnected" before going offline. */
    presenceGraceSeconds: number;
    /** Frames a single connection may send per 10 s before being refused with a rate-limit error. */
    framesPer10s: number;
    /** Bytes a slow client may leave unread before it is dropped. */
    maxBufferedBytes: number;
    /** Sockets are pinged this often; one that missed the previous ping is dropped. */
    heartbeatSeconds: number;
    /** Chat sockets one user may hold on this instance, every transport together; more are closed with 4029. */
    maxSocketsPerUser: number;
  };
  /** Slow clients and connection caps on the main HTTP port (http/connection-guards.ts). */
  connections: {
    /** Open connections (HTTP and WebSocket) in all; past it a new one is answered 503 and closed. */
    max: number;
    /** Open connections per client address (IPv6: per /64); not applied behind a trusted proxy. */
    maxPerIp: number;
    /** An idle keep-alive connection is closed after this. */
    keepAliveSeconds: number;
    /**
     * ...unless it carries a seed connection-login (seed 000/001 log in once per connection and
     * stay idle while their user types): then after this.
     */
    seedKeepAliveSeconds: number;
    /** Open connections per client address (IPv6: per /64) on each raw TCP door (seeds 001, 003). */
    tcpMaxPerIp: number;
    /** A request's headers must arrive within this. */
    headersTimeoutSeconds: number;
    /** A body Plaza reads whole (JSON, forms) must arrive within this. */
    bodyTimeoutSeconds: number;
    /** A streamed body (uploads) must average at least this many bytes/s over each window. */
    uploadMinBytesPerSecond: number;
    uploadRateWindowSeconds: number;
  };
  /** Backups (ops/backup/): a cron schedule (undefined = none) and how many regular archives to keep. */
  backup: {
    schedule?: string;
    /** Regular archives kept in data/backups after each backup there; 0 = all. */
    keep: number;
    /** Tests only (PLAZA_TEST_CRASH_AT): a restore kills itself at this point to prove it survives. */
    testCrashAt?: string;
  };
  /** The admin database console (ops/console/): limits of every query it runs. */
  console: {
    /** A query still running after this is cut off (SQLite: its process killed; PostgreSQL: statement_timeout). */
    timeoutMs: number;
    /** Rows a result shows at most (one more tells it was cut). */
    maxRows: number;
    /** Rows an export (CSV, JSON) streams at most. */
    exportMaxRows: number;
    /** Characters of SQL a query may have. */
    maxSqlChars: number;
  };
  /** The audit log (ops/audit/): days entries are kept (0 = forever). */
  audit: { retentionDays: number };
  /** Bearer token that unlocks Prometheus metrics at /metrics (undefined = off, /metrics is 404). */
  metricsToken?: string;
  /** Seed 001's raw TCP front door (undefined = off). */
  netclassPort?: number;
  /** Seed 003's raw TCP chat front door (undefined = off). */
  tcpchat?: { port: number; room: string; autoRegister: boolean };
}
