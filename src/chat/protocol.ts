import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError } from '../shared/errors.js';
import { ChatClientFrame, type ChatMessage, type ChatServerFrame, type RoomInfo } from './chat.schemas.js';
import type { HubEvent } from './model.js';

/**
 * The native chat protocol: JSON text frames with a `type`. docs/chat-protocol.md describes it for
 * client authors; chat.schemas.ts declares the frames; this file checks client frames against that
 * union (compiled once) and renders server frames.
 */

type Frames = ChatClientFrame;
type Of<T extends Frames['type']> = Extract<Frames, { type: T }>;
type UserRef = Of<'dm'>['user'];
/** Sends and shares go to a room or to a user (a direct message), never both: checked after the schema. */
type Target = { room: number; user?: undefined } | { room?: undefined; user: UserRef };
type Joining = { room: number; name?: undefined } | { room?: undefined; name: string };

/** A validated client frame, narrowed by `type`. */
export type ClientFrame =
  | Exclude<Frames, { type: 'send' | 'share' | 'join' }>
  | (Omit<Of<'send'>, 'room' | 'user'> & Target)
  | (Omit<Of<'share'>, 'room' | 'user'> & Target)
  | (Omit<Of<'join'>, 'room' | 'name'> & Joining);
export type FrameType = ClientFrame['type'];
export type FrameOf<T extends FrameType> = Extract<ClientFrame, { type: T }>;

const FRAME_TYPES = new Set<string>(ChatClientFrame.anyOf.map((s) => s.properties.type.const));
const TYPE_LIST = [...FRAME_TYPES].join(', ');

let validator: ValidateFunction<Frames> | undefined;
/**
 * The frame's schema failures, or none. Compiled on the first frame (not at start), once: Ajv picks
 * the union's branch by `type` (its discriminator).
 */
function schemaErrors(frame: unknown): ErrorObject[] | undefined {
  validator ??= new Ajv({
    allErrors: false,
    strict: false,
    discriminator: true,
    // Lengths as JavaScript counts them (UTF-16 units), like the services' own checks; O(1) too.
    // `unicode` is deprecated but still honoured; the logger would only repeat that.
    unicode: false,
    logger: false,
  }).compile<Frames>({ type: 'object', required: ['type'], discriminator: { propertyName: 'type' }, oneOf: ChatClientFrame.anyOf });
  return validator(frame) ? undefined : (validator.errors ?? []);
}

function bad(message: string): AppError {
  return new AppError('VALIDATION_FAILED', message);
}

/** Ajv's first failure said as before the schema existed: the field named, what it must be. */
function problem(type: string, errors: ErrorObject[]): string {
  // A failed union (a user reference) reports its branches first and itself last.
  const e = errors[errors.length - 1];
  if (!e) return 'The frame does not match its schema';
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required' && e.instancePath === '') return `"${type}" frames need "${String(params.missingProperty)}"`;
  if (e.keyword === 'additionalProperties') return `"${type}" frames have no field "${String(params.additionalProperty)}"`;
  const [, field = '', item] = e.instancePath.split('/');
  if (field === 'rooms') {
    if (item !== undefined) return 'each of "rooms" must be {"room": <id>, "after": <sequence>}';
    return e.keyword === 'maxItems' ? `"rooms" has more than ${String(params.limit)} entries` : '"rooms" must be a list of {"room","after"}';
  }
  switch (e.keyword) {
    case 'anyOf':
      return `"${field}" must be a user id or a username`;
    case 'enum':
      return `"${field}" must be ${(params.allowedValues as string[]).map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'maxLength':
      return `"${field}" is longer than ${String(params.limit)} characters`;
    case 'type':
      if (params.type === 'string') return `"${field}" must be a string`;
  }
  return `"${field}" must be a whole number ≥ 0`;
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
  if (typeof type !== 'string' || !FRAME_TYPES.has(type)) {
    throw bad(`Unknown frame type ${JSON.stringify(type)}; expected one of ${TYPE_LIST}`);
  }
  // A field sent as null is a field not sent.
  for (const key in obj) if (obj[key] === null) delete obj[key];
  const errors = schemaErrors(obj);
  if (errors) throw bad(problem(type, errors));
  if ((obj.type === 'send' || obj.type === 'share') && (obj.room === undefined) === (obj.user === undefined)) {
    throw bad(`"${type}" frames need either "room" or "user" (a direct message)`);
  }
  if (obj.type === 'join' && (obj.room === undefined) === (obj.name === undefined)) {
    throw bad('"join" frames need either "room" or "name"');
  }
  // The schema checked every field; the two checks above, what it cannot say (one of two fields).
  return obj as ClientFrame;
}

// ── Server frames ───────────────────────────────────────────────────────────────────────────

type ServerFrameOf<T extends ChatServerFrame['type']> = Extract<ChatServerFrame, { type: T }>;
/** A reply's fields beyond `type` and `ref`. */
export type ReplyBody<T extends ChatServerFrame['type']> = Omit<ServerFrameOf<T>, 'type' | 'ref'>;

/** Messages are rendered once per message and shared by every connection. */
const rendered = new WeakMap<ChatMessage, string>();

export function messageFrame(message: ChatMessage): string {
  let json = rendered.get(message);
  if (json === undefined) {
    json = JSON.stringify({ type: 'message', ...message });
    rendered.set(message, json);
  }
  return json;
}

/** A native frame for a hub event; relays (seed 004 text kept in memory) never reach native sockets. */
export function eventFrame(event: Exclude<HubEvent, { kind: 'relay' }>): string {
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

/** An error frame; a failed `send`/`share` carries the message's `clientId`, so the client knows which one to resend. */
export function errorFrame(code: string, message: string, refValue?: string, retryAfter?: number, clientId?: string): string {
  return JSON.stringify({
    type: 'error',
    code,
    message,
    ...(refValue !== undefined ? { ref: refValue } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    ...(clientId !== undefined ? { clientId } : {}),
  });
}

export function replyFrame<T extends ChatServerFrame['type']>(type: T, refValue: string | undefined, body: ReplyBody<T>): string {
  return JSON.stringify({ type, ...(refValue !== undefined ? { ref: refValue } : {}), ...body });
}

export function helloFrame(connectionId: string, user: { id: number | null; name: string }, rooms: RoomInfo[]): string {
  return JSON.stringify({ type: 'hello', connectionId, user, rooms, heartbeatSeconds: 30 });
}
