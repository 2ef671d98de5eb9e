import type { User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import type { HubConnection } from '../../chat/hub.js';
import type { Participant, RoomInfo } from '../../chat/model.js';
import type { Identity } from './identity.js';
import type { Sender } from './send-to.js';

/** One seed 004 command connection, as its command handlers see it. */
export interface Session {
  core: Core;
  identity: Identity;
  me: Participant;
  /** Null for guests. */
  user: User | null;
  conn: HubConnection;
  /** Rooms this connection knows by id (name, kind, visibility). */
  known: Map<number, RoomInfo>;
  /** One text frame to the client (dropped once the socket is closed or too far behind). */
  write(text: string): void;
  /** Says a failure to the client in the seed's words, logged by its kind. */
  replyError(err: unknown): void;
}

/** The groups this connection speaks to: rooms (not DMs) it follows, by name. */
export function myGroups(s: Session): RoomInfo[] {
  return s.core.chat
    .followedBy(s.conn)
    .map((id) => s.known.get(id))
    .filter((r): r is RoomInfo => r !== undefined && r.kind === 'room')
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function senderOf(s: Session): Sender {
  return { participant: s.me, user: s.user, followed: s.core.chat.followedBy(s.conn) };
}
