import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import type { FilesService } from '../files/files.service.js';
import type { Clock } from '../shared/clock.js';
import { describeFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import type { Hub, HubConnection } from './hub.js';
import { createMessageBatcher, type SendResult, wasShown } from './message-batcher.js';
import { recoverFromLostCommits } from './message-recovery.js';
import { checkBody, type MessageStyle, newRow, type SendInput, toMessage } from './message-row.js';
import * as messages from './messages.repository.js';
import type { Participant, RoomInfo } from './model.js';
import type { RoomsService } from './rooms.service.js';

// The message API; the group commit lives in message-batcher.ts, crash recovery in message-recovery.ts.
export { CLIENT_ID, MAX_BODY_CHARS, type SendInput, toMessage } from './message-row.js';
export { LOST_SEQ_GAP } from './message-recovery.js';
export type { SendResult } from './message-batcher.js';

const HISTORY_MAX = 200;
const REPLAY_PAGE = 1000;
/** Replays ask the transport whether its socket has drained this often (messages may be 16 KB each). */
const REPLAY_PACE_EVERY = 32;

export interface MessagesDeps {
  database: Database;
  hub: Hub;
  rooms: RoomsService;
  files: FilesService;
  clock: Clock;
}

export type MessagesService = ReturnType<typeof createMessagesService>;

export function createMessagesService({ database, hub, rooms, files, clock }: MessagesDeps) {
  const { db } = database;
  const { persist, drain, counts } = createMessageBatcher({ database, hub });
  const replayDeps = { database, hub, rooms };

  /**
   * A member sends into a room (or DM). Resolves as soon as the message is queued — in the order
   * of calls — with `committed`, which resolves once the message is stored and fanned out.
   */
  async function enqueue(user: User, roomId: number, input: SendInput): Promise<{ committed: Promise<SendResult> }> {
    if (!input.file) checkBody(input.body);
    const room = await rooms.requireMember(user, roomId);
    const sender = { key: `u${user.id}`, userId: user.id, name: user.username };
    return { committed: persist(newRow(room, sender, input, clock.now()), input.style) };
  }

  async function send(user: User, roomId: number, input: SendInput): Promise<SendResult> {
    return (await enqueue(user, roomId, input)).committed;
  }

  /** Shares one of the caller's files into a room: members can then download it. */
  async function enqueueShare(user: User, roomId: number, fileId: string, clientId?: string) {
    const file = await files.getVisible(user, fileId);
    // Admins may see every file, but share only their own like everyone else.
    if (file.ownerId !== user.id) throw new AppError('NOT_FOUND', 'No such file');
    return enqueue(user, roomId, { body: file.name, file, clientId });
  }

  async function shareFile(user: User, roomId: number, fileId: string, clientId?: string): Promise<SendResult> {
    return (await enqueueShare(user, roomId, fileId, clientId)).committed;
  }

  /** Posts without a membership check: the caller decided (guests in public rooms, admins' system messages). */
  async function post(room: RoomInfo, sender: Participant, input: SendInput): Promise<SendResult> {
    if (!input.file) checkBody(input.body);
    return persist(newRow(room, sender, input, clock.now()), input.style);
  }

  /** A seed 004 guest (no account) speaks in a public room it follows. */
  async function sendAsGuest(guest: Participant, room: RoomInfo, input: SendInput): Promise<SendResult> {
    if (room.visibility !== 'public' || room.kind !== 'room') throw new AppError('NOT_MEMBER', 'Guests use public rooms only');
    return post(room, guest, input);
  }

  /** Whether a failed send may be relayed: the database was unavailable and the message never reached the room. */
  const mayRelay = (err: unknown) => describeFailure(err).code === 'DATABASE_UNAVAILABLE' && !wasShown(err);

  /**
   * Seed 004 text the database could not store (it is down): passed live to the room's
   * connections on every instance, never stored and never acknowledged as stored.
   */
  function relay(room: RoomInfo, sender: Participant, input: { body: string; style: MessageStyle; clientId?: string | undefined }) {
    checkBody(input.body);
    const event = { kind: 'relay' as const, room: room.id, from: { id: sender.userId, name: sender.name }, body: input.body, style: input.style };
    void hub.publishToRoom(room.id, input.clientId === undefined ? event : { ...event, clientId: input.clientId });
  }

  /** Pages back through a room: messages before `before` (default: the newest), oldest first. */
  async function history(user: User, roomId: number, before: number | undefined, limit = 50) {
    const room = await rooms.requireMember(user, roomId);
    const n = Math.min(Math.max(1, limit), HISTORY_MAX);
    const rows = await messages.listBefore(db, room.id, before ?? Number.MAX_SAFE_INTEGER, n + 1);
    const page = rows.slice(0, n).reverse();
    return { room, messages: page.map(toMessage), hasMore: rows.length > n };
  }

  return {
    /** Messages stored and deliveries made since start (metrics). */
    counts,
    recoverFromLostCommits: () => recoverFromLostCommits(database),
    drain,
    enqueue,
    send,
    enqueueShare,
    shareFile,
    post,
    sendAsGuest,
    mayRelay,
    relay,
    history,
    replay: (user: User, conn: HubConnection, roomId: number, after: number, options: ReplayOptions = {}) =>
      replay(replayDeps, user, conn, roomId, after, options),
  };
}

interface ReplayOptions {
  pace?: () => Promise<void>;
  begun?: boolean;
}

/**
 * Sends a connection every message after `after`, in order and exactly once, then lets live
 * messages through. Only rooms the connection follows (its user is a member of) can be replayed.
 * `pace` lets the transport wait for its socket to drain; it is asked every few messages.
 * With `begun`, the transport already started holding live messages (cursors given at connect).
 */
async function replay(
  { database, hub, rooms }: Pick<MessagesDeps, 'database' | 'hub' | 'rooms'>,
  user: User,
  conn: HubConnection,
  roomId: number,
  after: number,
  options: ReplayOptions,
) {
  let begun = options.begun === true;
  try {
    const room = await rooms.requireMember(user, roomId);
    // A membership removed a moment ago may still be cached: the hub's subscription is current.
    if (!hub.isSubscribed(conn, room.id)) throw new AppError('NOT_MEMBER', `Join room "${room.name}" first`);
    const row = await rooms.findRow(room.id);
    const lastSeq = Number(row?.last_seq ?? 0);
    if (after > lastSeq) {
      throw new AppError('INVALID_CURSOR', `Room "${room.name}" has no message ${after} yet (last is ${lastSeq})`);
    }
    if (!begun) {
      if (!hub.beginReplay(conn, room.id, after)) throw new AppError('BAD_REQUEST', 'A replay of this room is already running');
      begun = true;
    }
    let cursor = after;
    let count = 0;
    for (;;) {
      const page = await messages.listAfter(database.db, room.id, cursor, REPLAY_PAGE);
      for (let i = 0; i < page.length; i++) {
        if (i % REPLAY_PACE_EVERY === 0 && options.pace) await options.pace();
        hub.replayMessage(conn, toMessage(page[i] as messages.MessageRow));
      }
      count += page.length;
      const last = page[page.length - 1];
      if (!last || page.length < REPLAY_PAGE) break;
      cursor = Number(last.seq);
    }
    return { room: { ...room, lastSeq: Math.max(lastSeq, cursor) }, replayed: count };
  } finally {
    if (begun) hub.endReplay(conn, roomId);
  }
}
