import type { ChatMessage, RoomInfo } from './chat.schemas.js';

/** Chat's domain types, shared by the service, the hub and every transport. Messages and rooms are declared once, in chat.schemas.ts. */
export type { ChatMessage, RoomInfo } from './chat.schemas.js';

export type MessageKind = ChatMessage['kind'];
export type RoomKind = RoomInfo['kind'];
export type Visibility = RoomInfo['visibility'];
export type PresenceState = 'online' | 'disconnected' | 'offline';
export type PresenceEvent = 'joined' | 'left' | 'disconnected' | 'rejoined' | 'offline';
export type SharedFile = NonNullable<ChatMessage['file']>;

/**
 * Who is behind a connection. Registered users have `key` `u<id>`; seed 004 guests (when enabled)
 * `g:<name>` and no user id.
 */
export interface Participant {
  key: string;
  userId: number | null;
  name: string;
}

export function userKey(userId: number): string {
  return `u${userId}`;
}

/** Everything the hub hands to a connection; each transport renders it in its own words. */
export type HubEvent =
  /** `style` is how a seed 004 text client sent it (`/group <msg>` or plain text); not stored. */
  | { kind: 'message'; message: ChatMessage; style?: 'group' | 'text' }
  | {
      kind: 'presence';
      room: number;
      roomName: string;
      event: PresenceEvent;
      user: { id: number | null; name: string };
      count: number;
    }
  | { kind: 'direct'; from: { id: number | null; name: string }; text: string }
  /**
   * Seed 004 text passed on in memory while the database cannot store it (degraded mode): not
   * stored, no `seq`, never in history; text transports show it like a message, native sockets not at all.
   */
  | { kind: 'relay'; room: number; from: { id: number | null; name: string }; body: string; style: 'group' | 'text'; clientId?: string }
  | { kind: 'membership'; event: 'added' | 'removed'; room: RoomInfo };
