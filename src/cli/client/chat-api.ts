import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';

export interface Room {
  id: number;
  name: string;
  kind: 'room' | 'dm';
  visibility: string;
  lastSeq: number;
  role?: string;
}

export interface Message {
  id: string;
  room: number;
  seq: number;
  sender: { id: number | null; name: string };
  kind: string;
  body: string;
  createdAt?: number;
}

/**
 * A room by `@user` (the direct-message room with them, opened if need be), id or name; a room
 * you are not in yet is joined when it is public (or you were invited).
 */
export async function resolveRoom(api: ApiClient, ref: string): Promise<Room> {
  if (ref.startsWith('@')) {
    if (ref.length === 1) throw new ClientError('USAGE', 'Name the user after the @, e.g. @alice.', EXIT.usage);
    return (await api.request<{ room: Room }>('POST', '/api/chat/dms', { body: { user: ref.slice(1) } })).room;
  }
  const { rooms } = await api.request<{ rooms: Room[] }>('GET', '/api/chat/rooms');
  const name = ref.replace(/^#/, '');
  const room = rooms.find((r) => String(r.id) === name) ?? rooms.find((r) => r.kind === 'room' && r.name === name);
  if (!room) throw new ClientError('NOT_FOUND', `No room "${ref}" that you can see. Use @name for a direct message.`, EXIT.notFound);
  if (room.role) return room;
  return (await api.request<{ room: Room }>('POST', `/api/chat/rooms/${room.id}/join`)).room;
}
