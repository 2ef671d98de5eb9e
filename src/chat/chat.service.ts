import type { User } from '../accounts/model.js';
import type { UsersService } from '../accounts/users.service.js';
import type { Config } from '../config.js';
import type { Database } from '../db/connect.js';
import type { FilesService } from '../files/files.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { ChatBus } from './bus.js';
import { MAX_BODY_CHARS } from './chat.schemas.js';
import { createHub, type HubConnection, type Timers } from './hub.js';
import type { PresenceWire } from './hub/cluster-presence.js';
import { toMessage } from './message-row.js';
import * as messageRows from './messages.repository.js';
import { createMessagesService } from './messages.service.js';
import { type Participant, type PresenceState, type RoomInfo, userKey } from './model.js';
import { createRoomsService, toRoomInfo } from './rooms.service.js';

export interface ChatDeps {
  database: Database;
  config: Readonly<Config>;
  users: UsersService;
  files: FilesService;
  clock: Clock;
  bus: ChatBus;
  timers?: Timers;
  /** Several instances: messages put back in sequence order, gaps filled from history (hub/sequencer.ts). */
  sequenced?: boolean;
  /** Several instances: presence is the cluster's (hub/cluster-presence.ts). */
  cluster?: { instance: string; wire: PresenceWire };
}

export type ChatService = ReturnType<typeof createChatService>;

/** How long a message from another instance that arrived early waits for those before it. */
const GAP_WAIT_MS = 150;

/** Stored messages of a room strictly between two sequence numbers, oldest first (at most 1,000). */
async function messagesBetween(database: Database, roomId: number, after: number, before: number) {
  const rows = await messageRows.listAfter(database.db, roomId, after, Math.min(1000, Math.max(0, before - after - 1)));
  return rows.filter((r) => r.seq < before).map(toMessage);
}

/**
 * Chat as the transports see it: rooms, messages, connections, presence and server-side sends. The
 * hub is not handed out: transports use the named methods below.
 */
export function createChatService({ database, config, users, files, clock, bus, timers, sequenced, cluster }: ChatDeps) {
  const hub = createHub({
    ...(cluster ? { cluster } : {}),
    ...(sequenced ? { sequencing: { waitMs: GAP_WAIT_MS, fill: (roomId, after, before) => messagesBetween(database, roomId, after, before) } } : {}),
    bus,
    graceMs: config.chat.presenceGraceSeconds * 1000,
    // Messages held for a replaying client count against the same bound as its unread backlog.
    maxHeldBytes: config.chat.maxBufferedBytes,
    ...(timers ? { timers } : {}),
  });
  const rooms = createRoomsService({ database, hub, clock });
  const messages = createMessagesService({ database, hub, rooms, files, clock });

  function participantOf(user: User): Participant {
    return { key: userKey(user.id), userId: user.id, name: user.username };
  }

  /**
   * One account may not exhaust the server with sockets: a participant holds at most
   * `maxSocketsPerUser` connections on this instance, every transport together. Throws
   * TOO_MANY_SOCKETS (its message is the close reason) when they already hold that many.
   * Synchronous, so a transport can check before it greets and attach in the same turn.
   */
  function admit(participant: Participant): void {
    const max = config.chat.maxSocketsPerUser;
    if (hub.connectionsOf(participant.key) >= max) {
      throw new AppError('TOO_MANY_SOCKETS', `Too many chat connections: at most ${max} per user; close one first`);
    }
  }

  /**
   * A new connection follows every room its user belongs to; returns them. Rooms in `holdFrom`
   * (room id → last sequence seen) start held for a replay, so nothing live overtakes it.
   * Refused (TOO_MANY_SOCKETS, nothing attached) past the per-user cap.
   */
  async function connect(conn: HubConnection, holdFrom?: ReadonlyMap<number, number>): Promise<RoomInfo[]> {
    // Checked and attached in the same turn: concurrent upgrades cannot slip past the cap.
    admit(conn.participant);
    hub.attach(conn);
    try {
      const list = await rooms.roomsOf(conn.participant);
      for (const r of list) {
        hub.subscribe(conn, r);
        const after = holdFrom?.get(r.id);
        if (after !== undefined) hub.beginReplay(conn, r.id, after);
      }
      return list;
    } catch (err) {
      hub.detach(conn, true);
      throw err;
    }
  }

  const noSuchUser = () => new AppError('NOT_FOUND', 'No such user');

  /** `user` given as an id or a username. */
  async function resolveUser(ref: number | string): Promise<User> {
    const found = typeof ref === 'number' ? await users.findById(ref) : await users.findByUsername(ref);
    if (!found || found.disabled) throw noSuchUser();
    return found;
  }

  /**
   * A user's presence on this instance, for those who may know it: themself, site admins and
   * anyone sharing a room (or DM) with them. Anyone else gets what an unknown user gets.
   */
  async function presenceFor(viewer: User, targetId: number) {
    const target = await resolveUser(targetId);
    const allowed = viewer.id === target.id || viewer.role === 'admin' || (await rooms.shareARoom(viewer.id, target.id));
    if (!allowed) throw noSuchUser();
    const key = userKey(target.id);
    return { presence: hub.presenceOf(key), connections: hub.connectionsOf(key) };
  }

  /**
   * Participants with a live connection here that `viewer` may know are online: all of them for
   * site admins; otherwise themself and whoever is present in one of their rooms (DMs included).
   */
  async function visibleOnline(viewer: User): Promise<Participant[]> {
    const online = (p: Participant) => hub.presenceOf(p.key) === 'online';
    if (viewer.role === 'admin') return hub.onlineParticipants();
    const self = participantOf(viewer);
    const seen = new Map<string, Participant>(online(self) ? [[self.key, self]] : []);
    for (const room of await rooms.presenceRoomsOf(self)) {
      for (const p of hub.presentIn(room.id)) if (online(p)) seen.set(p.key, p);
    }
    return [...seen.values()];
  }

  /**
   * Server-side send to a user's connections (seed 004's `send_to`, REST). Who may push to whom is
   * the transport's decision; this answers how many connections got it and the user's presence.
   */
  async function sendToUser(actor: Participant, target: User, text: string) {
    if (text.trim() === '' || text.length > MAX_BODY_CHARS) {
      throw new AppError('VALIDATION_FAILED', `The message must be 1-${MAX_BODY_CHARS} characters`);
    }
    const delivered = await hub.publishToUser(userKey(target.id), {
      kind: 'direct',
      from: { id: actor.userId, name: actor.name },
      text,
    });
    const presence: PresenceState = hub.presenceOf(userKey(target.id));
    return { delivered, presence };
  }

  /** Server-side send into a room: members speak as themselves; a site admin outside it posts a system message. */
  async function sendToRoom(actor: User, roomId: number, text: string, clientId?: string) {
    if (actor.role === 'admin' && !(await rooms.roleOf(roomId, actor.id))) {
      const row = await rooms.findRow(roomId);
      if (!row) throw new AppError('NOT_FOUND', 'No such room');
      return messages.post(toRoomInfo(row), participantOf(actor), { body: text, kind: 'system', clientId });
    }
    return messages.send(actor, roomId, { body: text, clientId });
  }

  return {
    rooms,
    messages,
    /** Several instances: the hub's presence link to the others (cluster/presence-link.ts). */
    clusterPresence: hub.cluster,
    admit,
    connect,
    disconnect: (conn: HubConnection, clean: boolean) => hub.detach(conn, clean),
    participantOf,
    resolveUser,
    presenceFor,
    visibleOnline,
    sendToUser,
    sendToRoom,
    // What transports may ask the hub, by name (the hub itself stays inside chat/).
    /** A participant's presence on this instance, by key (`u<id>` or a guest's `g:<name>`). */
    presenceOf: (key: string): PresenceState => hub.presenceOf(key),
    /** A participant's live connections on this instance. */
    connectionsOf: (key: string): number => hub.connectionsOf(key),
    /** Every live connection on this instance. */
    connectionCount: (): number => hub.connectionCount(),
    /** Messages stored and their deliveries to live connections on this instance, since start. */
    messageCounts: (): { messages: number; deliveries: number } => ({ ...messages.counts }),
    /** Participants present in a room on this instance (online or within their grace period). */
    presentIn: (roomId: number): Participant[] => hub.presentIn(roomId),
    /** Participants present in a room with a live connection. */
    onlineIn: (roomId: number): Participant[] => hub.presentIn(roomId).filter((p) => hub.presenceOf(p.key) === 'online'),
    /** The connection follows a room's live events (seed 004's `/join`; guests, who hold no memberships). */
    follow: (conn: HubConnection, room: RoomInfo): void => hub.subscribe(conn, room),
    /** The connection stops following a room. */
    unfollow: (conn: HubConnection, roomId: number): void => hub.unsubscribe(conn, roomId),
    /** The ids of the rooms a connection follows. */
    followedBy: (conn: HubConnection): number[] => hub.subscribedRooms(conn),
    /**
     * Pushes a private notice to every connection of a participant (a guest: seed 004's `/send_to`);
     * resolves with how many got it. Who may push to whom is the transport's decision.
     */
    pushDirect: (key: string, from: Participant, text: string): Promise<number> =>
      hub.publishToUser(key, { kind: 'direct', from: { id: from.userId, name: from.name }, text }),
    close: () => hub.close(),
  };
}
