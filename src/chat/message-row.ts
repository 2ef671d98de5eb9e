import type { FileInfo } from '../files/files.service.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import { MAX_BODY_CHARS } from './chat.schemas.js';
import type { MessageRow } from './messages.repository.js';
import type { ChatMessage, MessageKind, Participant, RoomInfo } from './model.js';

/** A message's stored row: what a new one must look like, and how a row reads as a ChatMessage. */

export { MAX_BODY_CHARS };
export const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Seed 004's two ways of speaking to one's groups; only affects how its clients render it. */
export type MessageStyle = 'group' | 'text';

export interface SendInput {
  body: string;
  kind?: MessageKind;
  clientId?: string | undefined;
  file?: FileInfo;
  /** Seed 004's two ways of speaking to one's groups; only affects how its clients render it. */
  style?: MessageStyle;
}

export function toMessage(row: MessageRow): ChatMessage {
  const m: ChatMessage = {
    id: row.id,
    room: row.room_id,
    seq: Number(row.seq),
    sender: { id: row.sender_id, name: row.sender_name },
    kind: row.kind,
    body: row.body,
    createdAt: row.created_at,
  };
  if (row.client_id !== null) m.clientId = row.client_id;
  if (row.kind === 'file') {
    const meta = JSON.parse(row.body) as { name: string; size: number; type: string };
    m.body = meta.name;
    m.file = { id: row.file_id ?? '', name: meta.name, size: meta.size, type: meta.type };
  }
  return m;
}

export function checkBody(body: string) {
  if (body.trim() === '') throw new AppError('VALIDATION_FAILED', 'A message needs some text');
  if (body.length > MAX_BODY_CHARS) {
    throw new AppError('VALIDATION_FAILED', `Messages are at most ${MAX_BODY_CHARS} characters`);
  }
}

/** The row of a message about to be stored; its `seq` is handed out when its batch commits. */
export function newRow(room: RoomInfo, sender: Participant, input: SendInput, now: number): MessageRow {
  if (input.clientId !== undefined && !CLIENT_ID.test(input.clientId)) {
    throw new AppError('VALIDATION_FAILED', 'clientId must be 1-64 letters, digits or "_.:-"');
  }
  const file = input.file;
  return {
    id: randomId('msg'),
    room_id: room.id,
    seq: 0,
    sender_id: sender.userId,
    sender_name: sender.name,
    kind: file ? 'file' : (input.kind ?? 'text'),
    body: file ? JSON.stringify({ name: file.name, size: file.size, type: file.mime }) : input.body,
    file_id: file?.id ?? null,
    client_id: input.clientId ?? null,
    created_at: now,
  };
}
