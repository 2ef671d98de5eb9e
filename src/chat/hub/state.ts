import type { ChatBus } from '../bus.js';
import type { ChatMessage, HubEvent, Participant } from '../model.js';
import type { ClusterPresence } from './cluster-presence.js';
import type { RoomSequence, Sequencing } from './sequencer.js';

/**
 * The hub's data: its connections, participants and the rooms followed on this instance. Every
 * part of the hub (connections, presence, fan-out, replay) works on this one state object.
 */

export interface HubConnection {
  readonly id: string;
  readonly participant: Participant;
  /** Must not throw; a transport that cannot deliver closes its own socket. */
  deliver(event: HubEvent): void;
  /**
   * Live messages held back during replays outgrew the limit (a client reading far slower than
   * its rooms talk): the transport drops the connection, and the client resumes later. The hub
   * has already let go of what it held and delivers nothing more to this connection. Called in
   * the middle of a fan-out: it must not detach synchronously (closing the socket is fine).
   * Optional for transports that never replay, since only a replay holds messages.
   */
  overflow?(): void;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RoomRef {
  id: number;
  name: string;
}

/**
 * Where one connection stands in one room: the highest sequence delivered, the first one that
 * arrived live, and — while a replay runs — live messages held back and the replay's progress.
 */
export interface Cursor {
  seq: number;
  firstLive?: number;
  held?: ChatMessage[];
  /** Roughly what `held` weighs: its bodies' UTF-8 bytes plus a fixed share per message. */
  heldBytes?: number;
  replayed?: number;
}

export interface ConnState {
  conn: HubConnection;
  rooms: Map<number, Cursor>;
  /** Held too much during a replay: on its way out, receives nothing more. */
  overflowed?: boolean;
}

export interface UserState {
  participant: Participant;
  conns: Set<ConnState>;
  graceTimer?: unknown;
}

/** A participant's presence in one room: their connections there (none while disconnected). */
export interface Presence {
  participant: Participant;
  conns: Set<ConnState>;
}

export interface LocalRoom {
  ref: RoomRef;
  presence: Map<string, Presence>;
  unsubscribeBus: () => void;
  /** Used only with `HubState.sequencing` (several instances). */
  sequence: RoomSequence;
}

export interface HubState {
  bus: ChatBus;
  graceMs: number;
  timers: Timers;
  maxHeldBytes: number;
  /** Several instances: each room's messages are put back in sequence order (hub/sequencer.ts). */
  sequencing?: Sequencing;
  /** Several instances: presence is the cluster's (hub/cluster-presence.ts). */
  cluster?: ClusterPresence;
  conns: Map<string, ConnState>;
  users: Map<string, UserState>;
  rooms: Map<number, LocalRoom>;
  userSubs: Map<string, () => void>;
}
