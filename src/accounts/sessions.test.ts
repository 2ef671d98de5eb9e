import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildCore, type Core } from '../app.js';
import { loadConfig } from '../config.js';
import { PASSWORD } from '../../test/helpers/api.js';

const ctx = { ip: '127.0.0.1' };
const MINUTE = 60_000;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A core on a fresh SQLite file whose clock the test moves; idle sessions end after an hour. */
async function coreWithClock() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'plaza-sessions-'));
  const config = loadConfig({ PLAZA_DATA_DIR: dataDir, PLAZA_LOG_LEVEL: 'silent', PLAZA_SESSION_IDLE_TTL: '3600' });
  const clock = { t: Date.now(), now: () => clock.t };
  const core: Core = await buildCore(config, { secret: 'x'.repeat(43), clock });
  cleanups.push(async () => {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { core, clock };
}

describe('session activity (last seen)', () => {
  it('records each use (written just after, off the request), which keeps a used session alive past the idle limit; an unused one expires', async () => {
    const { core, clock } = await coreWithClock();
    const { accounts } = core;
    const logins = [];
    for (let i = 0; i < 30; i++) {
      const user = await accounts.createUser({ username: `walker${i}`, password: PASSWORD });
      logins.push(await accounts.startCookieSession(user, ctx));
    }
    const [idle, ...used] = logins as [(typeof logins)[0], ...typeof logins];
    const lastSeen = async () => {
      const rows = await core.database.db.selectFrom('sessions').select(['id', 'last_seen_at']).execute();
      return new Map(rows.map((r) => [r.id, Number(r.last_seen_at)]));
    };

    // 40 minutes later, every session but one is used at once (a heartbeat re-checking them all).
    clock.t += 40 * MINUTE;
    const checked = await Promise.all(used.map((l) => accounts.authenticateSession(l.sessionId)));
    expect(checked.every((p) => p !== undefined)).toBe(true);
    // Written shortly after, all together; the unused session keeps its login time.
    await vi.waitFor(async () => {
      const seen = await lastSeen();
      expect(used.every((l) => seen.get(l.sessionId) === clock.t)).toBe(true);
      expect(seen.get(idle.sessionId)).toBe(clock.t - 40 * MINUTE);
    });

    // 30 more minutes: 70 since login, 30 since last use.
    clock.t += 30 * MINUTE;
    expect(await accounts.authenticateSession(idle.sessionId)).toBeUndefined();
    expect(await accounts.authenticateCookie(idle.sessionToken)).toBeUndefined();
    for (const l of used) expect(await accounts.authenticateCookie(l.sessionToken)).toBeDefined();
  });
});
