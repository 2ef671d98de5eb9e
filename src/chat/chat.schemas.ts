import { type Static, Type } from 'typebox';

/**
 * Chat's shapes, declared once: the message and room every transport shows, the limits, and the
 * native WebSocket protocol's frames as two discriminated unions (on `type`). The REST routes,
 * the socket (protocol.ts compiles `ChatClientFrame` with Ajv) and the OpenAPI document all use
 * these. Plain TypeBox only, so services may import it too.
 */

/** Characters (UTF-16 code units, as JavaScript counts them) in one message. */
export const MAX_BODY_CHARS = 16_000;
/** Room names, usernames given as a user reference, file ids, client ids and refs. */
export const MAX_NAME_CHARS = 64;
export const MAX_CLIENT_ID_CHARS = 64;
export const MAX_FILE_ID_CHARS = 64;
export const MAX_REF_CHARS = 64;
/** Cursors in one `resume` frame (and pairs in `?resume=`). */
export const MAX_RESUME_ROOMS = 500;

const strict = { additionalProperties: false } as const;

/** A whole number ≥ 0 a JavaScript number holds exactly (room ids, sequence numbers). */
const Whole = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Visibility = Type.Enum(['public', 'private']);
export const Presence = Type.Enum(['online', 'disconnected', 'offline']);
const PresenceEvent = Type.Enum(['joined', 'left', 'disconnected', 'rejoined', 'offline']);
/** Who someone is in a frame; seed 004 guests have no user id. */
const Someone = Type.Object({ id: Type.Union([Type.Integer(), Type.Null()]), name: Type.String() });

export const SharedFile = Type.Object({ id: Type.String(), name: Type.String(), size: Type.Integer(), type: Type.String() });

/** A stored chat message, as every transport shows it. */
export const Message = Type.Object({
  id: Type.String(),
  room: Type.Integer(),
  seq: Type.Integer({ description: 'increases by one per message within the room' }),
  sender: Someone,
  kind: Type.Enum(['text', 'file', 'system']),
  body: Type.String(),
  file: Type.Optional(SharedFile),
  clientId: Type.Optional(Type.String()),
  createdAt: Type.Integer({ description: 'ms since epoch' }),
});
export type ChatMessage = Static<typeof Message>;

export const Room = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.Enum(['room', 'dm']),
  visibility: Visibility,
  lastSeq: Type.Integer(),
  createdAt: Type.Integer(),
  memberCount: Type.Optional(Type.Integer()),
  /** The caller's role, when the caller is a member. */
  role: Type.Optional(Type.Enum(['admin', 'member'])),
  /** The caller's read cursor (the highest seq they marked read), when the caller is a member. */
  readSeq: Type.Optional(Type.Integer()),
  /** Messages after the caller's read cursor (`lastSeq - readSeq`), when the caller is a member. */
  unread: Type.Optional(Type.Integer()),
});
export type RoomInfo = Static<typeof Room>;

/** A member's read cursor in a room: the REST answer and the `read` reply. */
export const ReadCursor = Type.Object({ room: Type.Integer(), readSeq: Type.Integer(), unread: Type.Integer() });
export type ReadCursor = Static<typeof ReadCursor>;

export const Member = Type.Object({ id: Type.Integer(), username: Type.String(), role: Type.String(), joinedAt: Type.Integer(), presence: Type.Optional(Presence) });

// ── Client → server frames ──────────────────────────────────────────────────────────────────
// Unknown fields are refused (typos surface at once); `null` counts as absent (protocol.ts).

const ref = Type.Optional(Type.String({ maxLength: MAX_REF_CHARS, description: 'echoed in the reply' }));
/** A user id or a username. */
const UserRef = Type.Union([Whole, Type.String({ minLength: 1, maxLength: MAX_NAME_CHARS })]);
const ClientId = Type.Optional(Type.String({ maxLength: MAX_CLIENT_ID_CHARS, description: '1–64 of A-Z a-z 0-9 _ . : - (idempotent resends)' }));
const Cursor = Type.Object({ room: Whole, after: Whole });

const toRoomOrUser = 'exactly one of `room` or `user` (a direct message)';
export const ChatClientFrame = Type.Union(
  [
    Type.Object({ type: Type.Literal('send'), room: Type.Optional(Whole), user: Type.Optional(UserRef), body: Type.String({ maxLength: MAX_BODY_CHARS }), clientId: ClientId, ref }, { ...strict, description: `A message; ${toRoomOrUser}. Reply: ack, once durable` }),
    Type.Object({ type: Type.Literal('share'), room: Type.Optional(Whole), user: Type.Optional(UserRef), fileId: Type.String({ maxLength: MAX_FILE_ID_CHARS }), clientId: ClientId, ref }, { ...strict, description: `Share one of your files; ${toRoomOrUser}. Reply: ack` }),
    Type.Object({ type: Type.Literal('history'), room: Whole, before: Type.Optional(Whole), limit: Type.Optional(Whole), ref }, { ...strict, description: 'Reply: history' }),
    Type.Object({ type: Type.Literal('resume'), rooms: Type.Array(Cursor, { maxItems: MAX_RESUME_ROOMS }), ref }, { ...strict, description: 'Replay what you missed. Reply: the missed messages, then resumed' }),
    Type.Object({ type: Type.Literal('join'), room: Type.Optional(Whole), name: Type.Optional(Type.String({ maxLength: MAX_NAME_CHARS })), ref }, { ...strict, description: 'Exactly one of `room` or `name`. Reply: joined' }),
    Type.Object({ type: Type.Literal('create'), name: Type.String({ maxLength: MAX_NAME_CHARS }), visibility: Type.Optional(Visibility), ref }, { ...strict, description: 'Reply: created' }),
    Type.Object({ type: Type.Literal('leave'), room: Whole, ref }, { ...strict, description: 'Reply: left' }),
    Type.Object({ type: Type.Literal('rooms'), ref }, { ...strict, description: 'Reply: rooms' }),
    Type.Object({ type: Type.Literal('members'), room: Whole, ref }, { ...strict, description: 'Reply: members' }),
    Type.Object({ type: Type.Literal('invite'), room: Whole, user: UserRef, ref }, { ...strict, description: 'Room admins. Reply: invited' }),
    Type.Object({ type: Type.Literal('remove'), room: Whole, user: UserRef, ref }, { ...strict, description: 'Room admins. Reply: removed' }),
    Type.Object({ type: Type.Literal('dm'), user: UserRef, ref }, { ...strict, description: 'The direct-message room with a user. Reply: dm' }),
    Type.Object({ type: Type.Literal('read'), room: Whole, seq: Whole, ref }, { ...strict, description: 'Mark the room read up to `seq` (a cursor only moves forward). Reply: read' }),
    Type.Object({ type: Type.Literal('ping'), ref }, { ...strict, description: 'Reply: pong' }),
    Type.Object({ type: Type.Literal('bye') }, { ...strict, description: 'A clean goodbye: the server closes with 1000' }),
  ],
  { discriminator: { propertyName: 'type' }, description: 'A frame the client sends on the native chat WebSocket (JSON text)' },
);
export type ChatClientFrame = Static<typeof ChatClientFrame>;

// ── Server → client frames ──────────────────────────────────────────────────────────────────

const replyRef = Type.Optional(Type.String({ description: 'the `ref` of the frame answered' }));
const RoomReply = <T extends string>(type: T, description: string) => Type.Object({ type: Type.Literal(type), ref: replyRef, room: Room }, { description });
const MemberReply = <T extends string>(type: T) => Type.Object({ type: Type.Literal(type), ref: replyRef, room: Type.Integer(), user: Someone });

export const HelloFrame = Type.Object(
  { type: Type.Literal('hello'), connectionId: Type.String(), user: Someone, rooms: Type.Array(Room), heartbeatSeconds: Type.Integer() },
  { description: 'First frame: the rooms this connection already follows' },
);
export const MessageFrame = Type.Object({ type: Type.Literal('message'), ...Message.properties }, { description: 'A message in a room you follow' });
export const PresenceFrame = Type.Object({ type: Type.Literal('presence'), room: Type.Integer(), event: PresenceEvent, user: Someone, count: Type.Integer() });
export const MembershipFrame = Type.Object({ type: Type.Literal('membership'), event: Type.Enum(['added', 'removed']), room: Room });
export const DirectFrame = Type.Object({ type: Type.Literal('direct'), from: Someone, text: Type.String() }, { description: 'A server-side notice to you' });
export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    code: Type.String({ description: 'Plaza error code' }),
    message: Type.String(),
    ref: replyRef,
    retryAfter: Type.Optional(Type.Integer({ description: 'seconds to wait before retrying (the server could not do it right now)' })),
    clientId: Type.Optional(Type.String({ description: "a failed send's or share's clientId: that message is not stored; resend it" })),
  },
  { description: 'A frame failed' },
);
const Resumed = Type.Object({ room: Type.Integer(), replayed: Type.Integer(), lastSeq: Type.Integer() });
export const AckFrame = Type.Object(
  { type: Type.Literal('ack'), ref: replyRef, id: Type.String(), room: Type.Integer(), seq: Type.Integer(), clientId: Type.Optional(Type.String()), duplicate: Type.Boolean() },
  { description: 'The message is committed and on disk' },
);

export const ReplyFrames = [
  AckFrame,
  Type.Object({ type: Type.Literal('history'), ref: replyRef, room: Type.Integer(), messages: Type.Array(Message), hasMore: Type.Boolean() }),
  Type.Object({ type: Type.Literal('resumed'), ref: replyRef, rooms: Type.Array(Resumed) }),
  RoomReply('joined', 'Joined the room'),
  RoomReply('created', 'Created the room; you are its admin'),
  RoomReply('dm', 'The direct-message room'),
  Type.Object({ type: Type.Literal('left'), ref: replyRef, room: Type.Integer() }),
  Type.Object({ type: Type.Literal('rooms'), ref: replyRef, rooms: Type.Array(Room) }),
  Type.Object({ type: Type.Literal('members'), ref: replyRef, room: Type.Integer(), members: Type.Array(Member) }),
  MemberReply('invited'),
  MemberReply('removed'),
  Type.Object({ type: Type.Literal('read'), ref: replyRef, ...ReadCursor.properties }, { description: 'Your read cursor in the room now' }),
  Type.Object({ type: Type.Literal('pong'), ref: replyRef }),
] as const;

export const ChatServerFrame = Type.Union([HelloFrame, MessageFrame, PresenceFrame, MembershipFrame, DirectFrame, ErrorFrame, ...ReplyFrames], {
  discriminator: { propertyName: 'type' },
  description: 'A frame the server sends on the native chat WebSocket (JSON text)',
});
export type ChatServerFrame = Static<typeof ChatServerFrame>;
