import { AppError } from '../shared/errors.js';
import type { ChatMessage, HubEvent, RoomInfo } from './model.js';

/**
 * The native chat protocol: JSON text frames with a `type`. docs/chat-protocol.md describes it for
 * client authors; this file is the executable version. Every client frame is checked against its
 * field table before anything else sees it.
 */

type FieldType = 'int' | 'string' | 'user' | 'cursors' | 'visibility';
interface Field {
  type: FieldType;
  required?: boolean;
  max?: number;
}

const ref: Field = { type: 'string', max: 64 };
const room: Field = { type: 'int', required: true };

const FRAMES = {
  send: { room: { type: 'int' }, user: { type: 'user' }, body: { type: 'string', required: true, max: 16_000 }, clientId: { type: 'string', max: 64 }, ref },
  share: { room: { type: 'int' }, user: { type: 'user' }, fileId: { type: 'string', required: true, max: 64 }, clientId: { type: 'string', max: 64 }, ref },
  history: { room, before: { type: 'int' }, limit: { type: 'int' }, ref },
  resume: { rooms: { type: 'cursors', required: true, max: 500 }, ref },
  join: { room: { type: 'int' }, name: { type: 'string', max: 64 }, ref },
  create: { name: { type: 'string', required: true, max: 64 }, visibility: { type: 'visibility' }, ref },
  leave: { room, ref },
  rooms: { ref },
  members: { room, ref },
  invite: { room, user: { type: 'user', required: true }, ref },
  remove: { room, user: { type: 'user', required: true }, ref },
  dm: { user: { type: 'user', required: true }, ref },
  ping: { ref },
  bye: {},
} satisfies Record<string, Record<string, Field>>;

export type FrameType = keyof typeof FRAMES;
export interface Cursor {
  room: number;
  after: number;
}
/** A validated client frame. `user` is a user id or a username. */
export interface ClientFrame {
  type: FrameType;
  ref?: string;
  room?: number;
  user?: number | string;
  body?: string;
  clientId?: string;
  fileId?: string;
  before?: number;
  limit?: number;
  rooms?: Cursor[];
  name?: string;
  visibility?: 'public' | 'private';
}

function bad(message: string): AppError {
  return new AppError('VALIDATION_FAILED', message);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkField(name: string, spec: Field, v: unknown): unknown {
  switch (spec.type) {
    case 'int':
      if (!isInt(v)) throw bad(`"${name}" must be a whole number ≥ 0`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw bad(`"${name}" must be a string`);
      if (spec.max !== undefined && v.length > spec.max) throw bad(`"${name}" is longer than ${spec.max} characters`);
      return v;
    case 'user':
      if (isInt(v)) return v;
      if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v;
      throw bad(`"${name}" must be a user id or a username`);
    case 'visibility':
      if (v !== 'public' && v !== 'private') throw bad(`"${name}" must be "public" or "private"`);
      return v;
    case 'cursors': {
      if (!Array.isArray(v)) throw bad(`"${name}" must be a list of {"room","after"}`);
      if (spec.max !== undefined && v.length > spec.max) throw bad(`"${name}" has more than ${spec.max} entries`);
      return v.map((c: unknown) => {
        const o = c as Record<string, unknown> | null;
        if (typeof o !== 'object' || o === null || !isInt(o.room) || !isInt(o.after)) {
          throw bad(`each of "${name}" must be {"room": <id>, "after": <sequence>}`);
        }
        return { room: o.room, after: o.after };
      });
    }
  }
}

/** Parses and validates one text frame; throws AppError (INVALID_JSON / VALIDATION_FAILED) with a precise message. */
export function parseClientFrame(text: string): ClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError('INVALID_JSON', 'Frames are JSON objects with a "type"');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('Frames are JSON objects with a "type"');
  const obj = raw as Record<string, unknown>;
  const type = obj.type;
  if (typeof type !== 'string' || !Object.hasOwn(FRAMES, type)) {
    throw bad(`Unknown frame type ${JSON.stringify(type)}; expected one of ${Object.keys(FRAMES).join(', ')}`);
  }
  const fields: Record<string, Field> = FRAMES[type as FrameType];
  const frame: Record<string, unknown> = { type };
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'type') continue;
    const spec = fields[key];
    if (!spec) throw bad(`"${type}" frames have no field "${key}"`);
    if (value === undefined || value === null) continue;
    frame[key] = checkField(key, spec, value);
  }
  for (const [key, spec] of Object.entries(fields)) {
    if (spec.required && frame[key] === undefined) throw bad(`"${type}" frames need "${key}"`);
  }
  if ((type === 'send' || type === 'share') && (frame.room === undefined) === (frame.user === undefined)) {
    throw bad(`"${type}" frames need either "room" or "user" (a direct message)`);
  }
  if (type === 'join' && (frame.room === undefined) === (frame.name === undefined)) {
    throw bad('"join" frames need either "room" or "name"');
  }
  return frame as unknown as ClientFrame;
}

/** Server frames. Messages are rendered once per message and shared by every connection. */
const rendered = new WeakMap<ChatMessage, string>();

export function messageFrame(message: ChatMessage): string {
  let json = rendered.get(message);
  if (json === undefined) {
    json = JSON.stringify({ type: 'message', ...message });
    rendered.set(message, json);
  }
  return json;
}

export function eventFrame(event: HubEvent): string {
  switch (event.kind) {
    case 'message':
      return messageFrame(event.message);
    case 'presence':
      return JSON.stringify({
        type: 'presence',
        room: event.room,
        event: event.event,
        user: event.user,
        count: event.count,
      });
    case 'direct':
      return JSON.stringify({ type: 'direct', from: event.from, text: event.text });
    case 'membership':
      return JSON.stringify({ type: 'membership', event: event.event, room: event.room });
  }
}

export function errorFrame(code: string, message: string, refValue?: string): string {
  return JSON.stringify({ type: 'error', code, message, ...(refValue !== undefined ? { ref: refValue } : {}) });
}

export function replyFrame(type: string, refValue: string | undefined, body: Record<string, unknown>): string {
  return JSON.stringify({ type, ...(refValue !== undefined ? { ref: refValue } : {}), ...body });
}

export function helloFrame(connectionId: string, user: { id: number | null; name: string }, rooms: RoomInfo[]): string {
  return JSON.stringify({ type: 'hello', connectionId, user, rooms, heartbeatSeconds: 30 });
}
