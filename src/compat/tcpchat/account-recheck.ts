import type net from 'node:net';
import type { Core } from '../../app.js';
import { runInSlices } from '../../shared/slices.js';

/** Accounts re-checked per turn of the event loop. */
const RECHECK_SLICE = 100;

/**
 * Every heartbeat, the logged-in TCP users' accounts are looked up again: a disabled or deleted
 * account's connections are cut. One lookup per user however many connections they have, a slice
 * at a time; a stuck database holds up only the re-checks. Returns the timer to clear on close.
 */
export function startAccountRecheck(core: Core, accounts: Map<net.Socket, number>): NodeJS.Timeout {
  let rechecking = false;
  const everyMs = core.config.chat.heartbeatSeconds * 1000;
  const recheck = setInterval(() => {
    if (rechecking) return;
    rechecking = true;
    const byUser = new Map<number, net.Socket[]>();
    for (const [socket, userId] of accounts) {
      const group = byUser.get(userId);
      if (group) group.push(socket);
      else byUser.set(userId, [socket]);
    }
    void runInSlices(byUser, RECHECK_SLICE, everyMs, async ([userId, group]) => {
      const u = await core.users.findById(userId).catch(() => 'unknown' as const);
      if (!u || (u !== 'unknown' && u.disabled)) for (const socket of group) socket.destroy();
    }).finally(() => (rechecking = false));
  }, everyMs);
  recheck.unref();
  return recheck;
}
