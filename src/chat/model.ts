/** Chat's domain types, shared by the service, the hub and every transport. */

export type MessageKind = 'text' | 'file' | 'system';
export type RoomKind = 'room' | 'dm';
export type Visibility = 'public' | 'private';
export type PresenceState = 'online' | 'disconnected' | 'offline';
export type PresenceEvent = 'joined' | 'left' | 'disconnected' | 'rejoined' | 'offline';

export interface SharedFile {
  id: string;
  name: string;
  size: number;
  type: string;
}

export interface ChatMessage {
  id: string;
  room: number;
  seq: number;
  sender: { id: number | null; name: string };
  kind: MessageKind;
  body: string;
  file?: SharedFile;
  clientId?: string;
  createdAt: number;
}

export interface RoomInfo {
  id: number;
  name: string;
  kind: RoomKind;
  visibility: Visibility;
  lastSeq: number;
  createdAt: number;
  memberCount?: number;
  /** The caller's role, when the caller is a member. */
  role?: 'admin' | 'member';
}

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
  | { kind: 'membership'; event: 'added' | 'removed'; room: RoomInfo };
