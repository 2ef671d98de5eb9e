import type { Core } from '../../app.js';
import { CLOSE } from '../../chat/close-codes.js';
import { type HeartbeatEntry, heartbeatOptions, startHeartbeat } from '../../chat/heartbeat.js';

/** A seed 004 socket the heartbeat looks after (command and echo sockets alike). */
export interface Live extends HeartbeatEntry {
  /** A guest's id: re-checked, since a guest may never keep a name someone has since registered. */
  guest?: string;
}

/**
 * Heartbeats for seed 004's sockets (see chat/heartbeat.ts); a guest also loses an id someone has
 * since registered (closed with 4003). Returns the stop function.
 */
export function startLiveHeartbeat(core: Core, live: Set<Live>): () => void {
  return startHeartbeat(
    live,
    heartbeatOptions(core, {
      each: (s) => {
        if (s.guest === undefined) return;
        core.users.findByUsername(s.guest.toLowerCase()).then(
          (u) => {
            if (u) s.socket.close(CLOSE.NAME_TAKEN, 'That name now belongs to a registered user');
          },
          () => {},
        );
      },
    }),
  );
}
