import { AppError } from '../../shared/errors.js';
import { CLOSE } from '../close-codes.js';
import type { ChatMessage } from '../model.js';
import { type ClientFrame, type FrameOf, replyFrame } from '../protocol.js';
import type { NativeConnection } from './context.js';
import { resume } from './replay.js';

/** What each client frame does: one small function per `type`, dispatched by `handleFrame`. */

type Frame<T extends ClientFrame['type']> = FrameOf<T>;

/** A send's room: the one named, or the direct-message room with the user named. */
async function roomForSend(c: NativeConnection, frame: Frame<'send'> | Frame<'share'>): Promise<number> {
  if (frame.room !== undefined) return frame.room;
  const other = await c.chat.resolveUser(frame.user);
  return (await c.chat.rooms.openDm(c.user, other)).id;
}

/** Acks once the message is durable; the next frame does not wait for that. */
function ackWhenCommitted(
  c: NativeConnection,
  frame: Frame<'send'> | Frame<'share'>,
  committed: Promise<{ message: ChatMessage; duplicate: boolean }>,
) {
  const ref = frame.ref;
  committed.then(
    ({ message, duplicate }) =>
      c.out.send(
        replyFrame('ack', ref, {
          id: message.id,
          room: message.room,
          seq: message.seq,
          ...(message.clientId ? { clientId: message.clientId } : {}),
          duplicate,
        }),
      ),
    (err) => c.replyError(err, ref, frame.clientId),
  );
}

async function send(c: NativeConnection, frame: Frame<'send'>) {
  const roomId = await roomForSend(c, frame);
  const queued = await c.chat.messages.enqueue(c.user, roomId, { body: frame.body, clientId: frame.clientId });
  ackWhenCommitted(c, frame, queued.committed);
}

async function share(c: NativeConnection, frame: Frame<'share'>) {
  const roomId = await roomForSend(c, frame);
  const queued = await c.chat.messages.enqueueShare(c.user, roomId, frame.fileId, frame.clientId);
  ackWhenCommitted(c, frame, queued.committed);
}

async function history(c: NativeConnection, frame: Frame<'history'>) {
  const h = await c.chat.messages.history(c.user, frame.room, frame.before, frame.limit);
  c.out.send(replyFrame('history', frame.ref, { room: h.room.id, messages: h.messages, hasMore: h.hasMore }));
}

/** The room named by id, or by name. */
async function roomToJoin(c: NativeConnection, frame: Frame<'join'>): Promise<number> {
  if (frame.room !== undefined) return frame.room;
  const found = await c.chat.rooms.findByName(frame.name);
  if (!found) throw new AppError('NOT_FOUND', 'No such room');
  return found.id;
}

async function join(c: NativeConnection, frame: Frame<'join'>) {
  const room = await c.chat.rooms.join(c.user, await roomToJoin(c, frame));
  c.out.send(replyFrame('joined', frame.ref, { room }));
}

async function create(c: NativeConnection, frame: Frame<'create'>) {
  const room = await c.chat.rooms.create(c.user, frame.name, frame.visibility ?? 'public');
  c.out.send(replyFrame('created', frame.ref, { room }));
}

async function leave(c: NativeConnection, frame: Frame<'leave'>) {
  await c.chat.rooms.leave(c.user, frame.room);
  c.out.send(replyFrame('left', frame.ref, { room: frame.room }));
}

async function rooms(c: NativeConnection, frame: Frame<'rooms'>) {
  c.out.send(replyFrame('rooms', frame.ref, { rooms: await c.chat.rooms.list(c.user) }));
}

async function members(c: NativeConnection, frame: Frame<'members'>) {
  c.out.send(replyFrame('members', frame.ref, { room: frame.room, members: await c.chat.rooms.members(c.user, frame.room) }));
}

async function invite(c: NativeConnection, frame: Frame<'invite'>) {
  const target = await c.chat.resolveUser(frame.user);
  await c.chat.rooms.invite(c.user, frame.room, target);
  c.out.send(replyFrame('invited', frame.ref, { room: frame.room, user: { id: target.id, name: target.username } }));
}

async function remove(c: NativeConnection, frame: Frame<'remove'>) {
  const target = await c.chat.resolveUser(frame.user);
  await c.chat.rooms.removeMember(c.user, frame.room, target.id);
  c.out.send(replyFrame('removed', frame.ref, { room: frame.room, user: { id: target.id, name: target.username } }));
}

async function dm(c: NativeConnection, frame: Frame<'dm'>) {
  const other = await c.chat.resolveUser(frame.user);
  c.out.send(replyFrame('dm', frame.ref, { room: await c.chat.rooms.openDm(c.user, other) }));
}

async function read(c: NativeConnection, frame: Frame<'read'>) {
  c.out.send(replyFrame('read', frame.ref, await c.chat.rooms.markRead(c.user, frame.room, frame.seq)));
}

function bye(c: NativeConnection) {
  c.goodbye = true;
  c.socket.close(CLOSE.NORMAL, 'Goodbye');
}

/** Runs one validated frame; a failure is the caller's to answer (with the frame's `ref`). */
export async function handleFrame(c: NativeConnection, frame: ClientFrame): Promise<void> {
  switch (frame.type) {
    case 'send':
      return send(c, frame);
    case 'share':
      return share(c, frame);
    case 'history':
      return history(c, frame);
    case 'resume':
      return resume(c, frame);
    case 'join':
      return join(c, frame);
    case 'create':
      return create(c, frame);
    case 'leave':
      return leave(c, frame);
    case 'rooms':
      return rooms(c, frame);
    case 'members':
      return members(c, frame);
    case 'invite':
      return invite(c, frame);
    case 'remove':
      return remove(c, frame);
    case 'dm':
      return dm(c, frame);
    case 'read':
      return read(c, frame);
    case 'ping':
      return c.out.send(replyFrame('pong', frame.ref, {}));
    case 'bye':
      return bye(c);
  }
}

/** The `clientId` of a send or share, which its error frame carries. */
export function clientIdOf(frame: ClientFrame): string | undefined {
  return frame.type === 'send' || frame.type === 'share' ? frame.clientId : undefined;
}

/** The `ref` a frame's reply carries (`bye` has none). */
export function refOf(frame: ClientFrame): string | undefined {
  return frame.type === 'bye' ? undefined : frame.ref;
}
