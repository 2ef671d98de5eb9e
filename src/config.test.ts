import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('config', () => {
  it('has safe defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      registration: 'open',
      accessTokenTtlSeconds: 1800,
      argon2: { memoryKiB: 7168, timeCost: 5 },
      password: { minLength: 8, maxLength: 128 },
      connectionLogin: true,
    });
    expect(c.database).toMatchObject({ kind: 'sqlite' });
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads chat, TCP door and SQLite durability settings; doors are off by default', () => {
    const d = loadConfig({});
    expect(d.chat).toEqual({
      guests: false,
      presenceGraceSeconds: 30,
      framesPer10s: 200,
      maxBufferedBytes: 4 * 1024 * 1024,
      heartbeatSeconds: 30,
      maxSocketsPerUser: 50,
    });
    expect(d.netclassPort).toBeUndefined();
    expect(d.tcpchat).toBeUndefined();
    expect(d.database).not.toHaveProperty('synchronous');
    const c = loadConfig({
      PLAZA_GUEST_CHAT: 'true',
      PLAZA_NETCLASS_PORT: '0',
      PLAZA_TCPCHAT_PORT: '9000',
      PLAZA_TCPCHAT_ROOM: '대화방',
      PLAZA_SQLITE_SYNCHRONOUS: 'normal',
    });
    expect(c.chat.guests).toBe(true);
    expect(loadConfig({ PLAZA_CHAT_MAX_SOCKETS_PER_USER: '3' }).chat.maxSocketsPerUser).toBe(3);
    for (const bad of ['0', 'many', '100001']) {
      expect(() => loadConfig({ PLAZA_CHAT_MAX_SOCKETS_PER_USER: bad })).toThrow(/PLAZA_CHAT_MAX_SOCKETS_PER_USER/);
    }
    expect(c.netclassPort).toBe(0);
    expect(c.tcpchat).toEqual({ port: 9000, room: '대화방', autoRegister: false });
    expect(c.database).toMatchObject({ kind: 'sqlite', synchronous: 'normal' });
    expect(() => loadConfig({ PLAZA_TCPCHAT_ROOM: '../x', PLAZA_SQLITE_SYNCHRONOUS: 'off', PLAZA_NETCLASS_PORT: 'x' })).toThrow(
      /PLAZA_TCPCHAT_ROOM[\s\S]*PLAZA_SQLITE_SYNCHRONOUS|PLAZA_SQLITE_SYNCHRONOUS[\s\S]*PLAZA_TCPCHAT_ROOM/,
    );
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({
        PLAZA_PORT: 'eighty',
        PLAZA_DATABASE_URL: 'mysql://x',
        PLAZA_REGISTRATION: 'maybe',
        PLAZA_ACCESS_TOKEN_TTL: '999999',
        PLAZA_ARGON2_MEMORY_KIB: '1024',
        PLAZA_ADMIN_USERNAME: 'root',
        PLAZA_RATE_LOGIN_IP: 'lots',
        PLAZA_COOKIE_SECURE: 'perhaps',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const name of [
        'PLAZA_PORT',
        'PLAZA_DATABASE_URL',
        'PLAZA_REGISTRATION',
        'PLAZA_ACCESS_TOKEN_TTL',
        'PLAZA_ARGON2_MEMORY_KIB',
        'PLAZA_ADMIN_PASSWORD',
        'PLAZA_RATE_LOGIN_IP',
        'PLAZA_COOKIE_SECURE',
      ]) {
        expect(problems).toContain(name);
      }
    }
  });

  it('reads the connection limits: defaults, overrides, and every bad value at once', () => {
    expect(loadConfig({}).connections).toEqual({
      max: 10_000,
      maxPerIp: 1000,
      keepAliveSeconds: 75,
      seedKeepAliveSeconds: 900,
      tcpMaxPerIp: 64,
      headersTimeoutSeconds: 10,
      bodyTimeoutSeconds: 30,
      uploadMinBytesPerSecond: 1024,
      uploadRateWindowSeconds: 30,
    });
    const c = loadConfig({
      PLAZA_MAX_CONNECTIONS: '500',
      PLAZA_MAX_CONNECTIONS_PER_IP: '50',
      PLAZA_KEEP_ALIVE_SECONDS: '30',
      PLAZA_SEED_KEEP_ALIVE_SECONDS: '600',
      PLAZA_TCP_MAX_CONNECTIONS_PER_IP: '4',
      PLAZA_HEADERS_TIMEOUT_SECONDS: '5',
      PLAZA_BODY_TIMEOUT_SECONDS: '20',
      PLAZA_UPLOAD_MIN_BYTES_PER_SECOND: '0',
      PLAZA_UPLOAD_RATE_WINDOW_SECONDS: '60',
    });
    expect(c.connections).toEqual({
      max: 500,
      maxPerIp: 50,
      keepAliveSeconds: 30,
      seedKeepAliveSeconds: 600,
      tcpMaxPerIp: 4,
      headersTimeoutSeconds: 5,
      bodyTimeoutSeconds: 20,
      uploadMinBytesPerSecond: 0,
      uploadRateWindowSeconds: 60,
    });
    const bad = {
      PLAZA_MAX_CONNECTIONS: '0',
      PLAZA_HEADERS_TIMEOUT_SECONDS: 'soon',
      PLAZA_BODY_TIMEOUT_SECONDS: '0',
      PLAZA_UPLOAD_RATE_WINDOW_SECONDS: '-1',
      PLAZA_SEED_KEEP_ALIVE_SECONDS: '0',
      PLAZA_TCP_MAX_CONNECTIONS_PER_IP: 'many',
    };
    expect(() => loadConfig(bad)).toThrow(ConfigError);
    try {
      loadConfig(bad);
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      for (const name of Object.keys(bad)) expect(problems).toContain(name);
    }
    expect(() => loadConfig({ PLAZA_MAX_CONNECTIONS: '100', PLAZA_MAX_CONNECTIONS_PER_IP: '200' })).toThrow(
      /PLAZA_MAX_CONNECTIONS_PER_IP must not exceed PLAZA_MAX_CONNECTIONS/,
    );
  });

  it('caps the bearer token lifetime and refuses argon2 below the OWASP floor', () => {
    expect(() => loadConfig({ PLAZA_ACCESS_TOKEN_TTL: String(2 * 86400) })).toThrow(/PLAZA_ACCESS_TOKEN_TTL/);
    expect(() => loadConfig({ PLAZA_ARGON2_MEMORY_KIB: '7168', PLAZA_ARGON2_TIME_COST: '2' })).toThrow(/OWASP/);
    expect(loadConfig({ PLAZA_ARGON2_MEMORY_KIB: '19456', PLAZA_ARGON2_TIME_COST: '2' }).argon2.memoryKiB).toBe(19456);
    // Rows of OWASP's table, not memory × passes: 17920 KiB with 2 passes is below the t=2 row.
    expect(() => loadConfig({ PLAZA_ARGON2_MEMORY_KIB: '17920', PLAZA_ARGON2_TIME_COST: '2' })).toThrow(/19456/);
    expect(() => loadConfig({ PLAZA_ARGON2_MEMORY_KIB: '35840', PLAZA_ARGON2_TIME_COST: '1' })).toThrow(/47104/);
    expect(loadConfig({ PLAZA_ARGON2_MEMORY_KIB: '7168', PLAZA_ARGON2_TIME_COST: '8' }).argon2.timeCost).toBe(8);
  });

  it('reads PostgreSQL URLs and rate rules', () => {
    const c = loadConfig({
      PLAZA_DATABASE_URL: 'postgres://u@h/db',
      PLAZA_DATABASE_SCHEMA: 'plaza',
      PLAZA_RATE_LOGIN_IP: '7/2h',
    });
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@h/db', schema: 'plaza' });
    expect(c.rateLimits.loginPerIp).toEqual({ points: 7, durationSeconds: 7200 });
    const login = loadConfig({ PLAZA_RATE_LOGIN_ACCOUNT_IP: '5/10m', PLAZA_RATE_LOGIN_FAIL_IP: '50/1h' }).rateLimits;
    expect(login.loginPerAccountIp).toEqual({ points: 5, durationSeconds: 600 });
    expect(login.loginFailuresPerIp).toEqual({ points: 50, durationSeconds: 3600 });
    // The account-wide limit only holds back strangers, so its default is above what one IP may fail in its window (10/15m).
    expect(login.loginPerAccount).toEqual({ points: 100, durationSeconds: 3600 });
    expect(() => loadConfig({ PLAZA_RATE_LOGIN_ACCOUNT_IP: '0/1m', PLAZA_RATE_LOGIN_FAIL_IP: 'x' })).toThrow(
      /PLAZA_RATE_LOGIN_FAIL_IP[\s\S]*PLAZA_RATE_LOGIN_ACCOUNT_IP/,
    );
    expect(() => loadConfig({ PLAZA_DATABASE_URL: 'postgres://u@h/db', PLAZA_DATABASE_SCHEMA: 'x;drop' })).toThrow(
      /SCHEMA/,
    );
  });

  it('bounds the limiters, the password checks and the refresh retry grace: defaults, overrides, bad values', () => {
    const d = loadConfig({});
    expect(d.rateLimitMaxKeys).toBe(100_000);
    expect(d.refreshReuseGraceSeconds).toBe(30);
    expect(loadConfig({ PLAZA_REFRESH_REUSE_GRACE_SECONDS: '0' }).refreshReuseGraceSeconds).toBe(0);
    expect(() => loadConfig({ PLAZA_REFRESH_REUSE_GRACE_SECONDS: '301' })).toThrow(/PLAZA_REFRESH_REUSE_GRACE_SECONDS/);
    // One thread of libuv's pool (4 unless UV_THREADPOOL_SIZE says otherwise) is left to file I/O.
    expect(d.argon2.concurrency).toBe(Math.max(1, Math.min(availableParallelism(), 3)));
    expect(d.argon2.queue).toBe(64);
    expect(loadConfig({ UV_THREADPOOL_SIZE: '2' }).argon2.concurrency).toBe(1);
    const c = loadConfig({ PLAZA_RATE_LIMIT_MAX_KEYS: '5000', PLAZA_ARGON2_CONCURRENCY: '3', PLAZA_ARGON2_QUEUE: '0' });
    expect([c.rateLimitMaxKeys, c.argon2.concurrency, c.argon2.queue]).toEqual([5000, 3, 0]);
    const bad = () =>
      loadConfig({ PLAZA_RATE_LIMIT_MAX_KEYS: '10', PLAZA_ARGON2_CONCURRENCY: '0', PLAZA_ARGON2_QUEUE: 'lots' });
    for (const name of ['PLAZA_RATE_LIMIT_MAX_KEYS', 'PLAZA_ARGON2_CONCURRENCY', 'PLAZA_ARGON2_QUEUE']) {
      expect(bad).toThrow(new RegExp(name));
    }
  });

  it('trusts a proxy by hop count or by address list, never every hop', () => {
    expect(loadConfig({})).toMatchObject({ trustProxy: false, trustProxyEnabled: false });
    for (const off of ['false', 'off', '0', 'no']) {
      expect(loadConfig({ PLAZA_TRUST_PROXY: off })).toMatchObject({ trustProxy: false, trustProxyEnabled: false });
    }
    expect(loadConfig({ PLAZA_TRUST_PROXY: '1' })).toMatchObject({ trustProxy: 1, trustProxyEnabled: true });
    expect(loadConfig({ PLAZA_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ PLAZA_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8' })).toMatchObject({
      trustProxy: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8'],
      trustProxyEnabled: true,
    });
    for (const all of ['true', 'TRUE', '*', 'yes', 'on', '0.0.0.0/0', '::/0', '10.0.0.0/8,*']) {
      expect(() => loadConfig({ PLAZA_TRUST_PROXY: all })).toThrow(/PLAZA_TRUST_PROXY.*spoof/);
    }
    for (const bad of ['proxy.local', '10.0.0.0/33', '300.1.1.1', '1,2', '-1', '11', '10.0.0.0/8,,']) {
      expect(() => loadConfig({ PLAZA_TRUST_PROXY: bad })).toThrow(/PLAZA_TRUST_PROXY/);
    }
  });

  it('reads the same settings after the split into per-area readers', () => {
    const c = loadConfig({ PLAZA_PUBLIC_URL: 'https://plaza.example/', PLAZA_ADMIN_USERNAME: 'root', PLAZA_ADMIN_PASSWORD: 'pw' });
    expect(c).toMatchObject({
      publicUrl: 'https://plaza.example',
      cookieSecure: true,
      admin: { username: 'root', password: 'pw' },
      bodyLimitBytes: 1024 * 1024,
      maxUploadBytes: 2 * 1024 ** 3,
      userQuotaBytes: 10 * 1024 ** 3,
      uploadDirectIo: true,
      diskReserveBytes: 8 * 1024 * 1024,
      sessionIdleSeconds: 7 * 86400,
      sessionAbsoluteSeconds: 30 * 86400,
      refreshTokenTtlSeconds: 30 * 86400,
      logLevel: 'info',
    });
    expect(Object.keys(loadConfig({})).sort()).toEqual(
      [
        'host', 'port', 'dataDir', 'database', 'logLevel', 'trustProxy', 'trustProxyEnabled', 'connectionLogin',
        'bodyLimitBytes', 'maxUploadBytes', 'userQuotaBytes', 'uploadDirectIo', 'diskReserveBytes', 'registration',
        'password', 'argon2', 'accessTokenTtlSeconds', 'refreshTokenTtlSeconds', 'refreshReuseGraceSeconds',
        'sessionIdleSeconds', 'sessionAbsoluteSeconds', 'cookieSecure', 'rateLimits', 'rateLimitMaxKeys', 'chat',
        'connections', 'backup', 'console', 'audit',
      ].sort(),
    );
    expect(() => loadConfig({ PLAZA_SESSION_IDLE_TTL: '7200', PLAZA_SESSION_ABSOLUTE_TTL: '3600' })).toThrow(/PLAZA_SESSION_IDLE_TTL/);
  });

  it('reports PLAZA_* variables no setting reads, with the nearest known name, and nothing else', () => {
    const c = loadConfig({
      PLAZA_PROT: '80',
      PLAZA_DATA_DIRR: '/tmp/x',
      PLAZA_REDIS_URI: 'redis://127.0.0.1:6379',
      PLAZA_PORT: '9000',
      PLAZA_SERVER: 'http://elsewhere',
      PLAZA_CACHE_MAX_BYTES: '1000',
      PATH: '/usr/bin',
      NODE_ENV: 'production',
    });
    expect(c.port).toBe(9000);
    expect(c.warnings).toEqual([
      'Unknown setting PLAZA_DATA_DIRR is ignored (did you mean PLAZA_DATA_DIR?)',
      'Unknown setting PLAZA_PROT is ignored (did you mean PLAZA_PORT?)',
      'Unknown setting PLAZA_REDIS_URI is ignored (did you mean PLAZA_REDIS_URL?)',
    ]);
    expect(loadConfig({}).warnings).toBeUndefined();
    // Every variable .env.example documents is one a setting reads (or the client's own).
    const documented = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').match(/^#?\s*(PLAZA_[A-Z0-9_]+)=/gm) ?? [];
    const names = documented.map((l) => l.replace(/^#?\s*/, '').replace(/=$/, ''));
    expect(names.length).toBeGreaterThan(20);
    expect(loadConfig(Object.fromEntries(names.map((n) => [n, undefined]))).warnings).toBeUndefined();
  });

  it('PLAZA_REDIS_URL needs a PostgreSQL database and a redis:// URL', () => {
    expect(() => loadConfig({ PLAZA_REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/need a shared PostgreSQL: set PLAZA_DATABASE_URL/);
    expect(() => loadConfig({ PLAZA_REDIS_URL: 'http://x', PLAZA_DATABASE_URL: 'postgres://db/plaza' })).toThrow(/must start with redis:\/\//);
    const c = loadConfig({ PLAZA_REDIS_URL: 'redis://127.0.0.1:6379/2', PLAZA_DATABASE_URL: 'postgres://db/plaza' });
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(c.warnings).toBeUndefined();
  });
});
