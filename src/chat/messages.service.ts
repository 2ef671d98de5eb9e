import type { User } from '../accounts/model.js';
import type { Database } from '../db/connect.js';
import type { FileInfo, FilesService } from '../files/files.service.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { randomId } from '../shared/ids.js';
import type { Hub, HubConnection } from './hub.js';
import * as messages from './messages.repository.js';
import type { ChatMessage, MessageKind, Participant, RoomInfo } from './model.js';
import type { RoomsService } from './rooms.service.js';

export const MAX_BODY_CHARS = 16_000;
export const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const HISTORY_MAX = 200;
const REPLAY_PAGE = 1000;
/** Replays ask the transport whether its socket has drained this often (messages may be 16 KB each). */
const REPLAY_PACE_EVERY = 32;
/** Sends waiting for the database are written together, one transaction per batch. */
const BATCH_MAX = 512;
/** How far sequences jump after a machine crash: more than a run can ever have shown unsynced. */
export const LOST_SEQ_GAP = 10_000;
/** At most this many messages are shown to members before they are known durable. */
const MAX_UNSYNCED = LOST_SEQ_GAP / 4;

export interface MessagesDeps {
  database: Database;
  hub: Hub;
  rooms: RoomsService;
  files: FilesService;
  clock: Clock;
}

export interface SendInput {
  body: string;
  kind?: MessageKind;
  clientId?: string | undefined;
  file?: FileInfo;
  /** Seed 004's two ways of speaking to one's groups; only affects how its clients render it. */
  style?: 'group' | 'text';
}

export interface SendResult {
  message: ChatMessage;
  /** The client id was seen before: this is the stored message, not a new one. */
  duplicate: boolean;
  /** Connections the message reached on this instance. */
  delivered: number;
}

export function toMessage(row: messages.MessageRow): ChatMessage {
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

interface Pending {
  row: messages.MessageRow;
  style: SendInput['style'];
  resolve(r: SendResult): void;
  reject(err: unknown): void;
}

export type MessagesService = ReturnType<typeof createMessagesService>;

export function createMessagesService({ database, hub, rooms, files, clock }: MessagesDeps) {
  const { db } = database;
  const queue: Pending[] = [];
  let flushing = false;
  /** Messages shown to members but not yet known durable, and the newest batch's sync. */
  let unsynced = 0;
  let lastDurable: Promise<void> = Promise.resolve();
  const idleWaiters: Array<() => void> = [];

  /**
   * Stores a batch with a few statements whatever its size: one lookup of earlier client ids per
   * sender, one sequence allocation per room, one multi-row insert.
   */
  async function storeBatch(trx: typeof db, rows: messages.MessageRow[]) {
    const out: Array<{ row: messages.MessageRow; duplicate: boolean }> = rows.map((row) => ({ row, duplicate: false }));
    const bySender = new Map<number, Map<string, number[]>>();
    rows.forEach((row, i) => {
      if (row.client_id === null || row.sender_id === null) return;
      let ids = bySender.get(row.sender_id);
      if (!ids) bySender.set(row.sender_id, (ids = new Map()));
      ids.set(row.client_id, [...(ids.get(row.client_id) ?? []), i]);
    });
    for (const [senderId, ids] of bySender) {
      for (const existing of await messages.findByClientIds(trx, senderId, [...ids.keys()])) {
        for (const i of ids.get(existing.client_id as string) ?? []) out[i] = { row: existing, duplicate: true };
        ids.delete(existing.client_id as string);
      }
      // The same client id twice in one batch: the first is stored, the others repeat it.
      for (const indexes of ids.values()) {
        const first = indexes[0] as number;
        for (const i of indexes.slice(1)) out[i] = { row: rows[first] as messages.MessageRow, duplicate: true };
      }
    }
    const fresh = out.filter((o) => !o.duplicate).map((o) => o.row);
    const perRoom = new Map<number, messages.MessageRow[]>();
    for (const row of fresh) {
      let list = perRoom.get(row.room_id);
      if (!list) perRoom.set(row.room_id, (list = []));
      list.push(row);
    }
    // Rooms locked in one global order: two instances' batches can never deadlock on each other.
    for (const [roomId, list] of [...perRoom].sort((x, y) => x[0] - y[0])) {
      const last = await messages.advanceSeq(trx, roomId, list.length);
      list.forEach((row, i) => {
        row.seq = last - list.length + 1 + i;
      });
    }
    await messages.insertMessages(trx, fresh);
    return out;
  }

  type Stored = { row: messages.MessageRow; duplicate: boolean };

  /**
   * Group commit: every send waiting when a flush starts shares one transaction. Its messages are
   * fanned out, in sequence order, as soon as it commits; each sender is acknowledged only once
   * the commit is durable (on SQLite the WAL's fsync runs off the event loop meanwhile, shared by
   * every batch waiting). The next batch does not wait for that fsync.
   */
  async function flush(): Promise<void> {
    // Bound what a machine crash could take back, so LOST_SEQ_GAP always covers it: past the
    // limit, the next batch waits for the syncs under way.
    if (unsynced >= MAX_UNSYNCED) await lastDurable.catch(() => {});
    const batch = queue.splice(0, BATCH_MAX);
    let stored: Array<Stored | Error>;
    let durable: Promise<void>;
    try {
      ({ result: stored, durable } = await database.transactionDurableLater((trx) => storeBatch(trx, batch.map((p) => p.row))));
    } catch (err) {
      // One bad row (a file deleted meanwhile, a race on a client id) must not fail the others:
      // store each on its own, so only the guilty send is refused.
      stored = [];
      const syncs: Promise<void>[] = [];
      for (const p of batch) {
        if (batch.length === 1) {
          stored.push(err as Error);
          break;
        }
        try {
          const one = await database.transactionDurableLater((trx) => storeBatch(trx, [p.row]));
          stored.push(one.result[0] as Stored);
          syncs.push(one.durable);
        } catch (e) {
          stored.push(e as Error);
        }
      }
      durable = Promise.all(syncs).then(() => {});
    }
    const results: Array<SendResult | Error> = [];
    for (const s of stored) {
      if (s instanceof Error) {
        results.push(s);
        continue;
      }
      const message = toMessage(s.row);
      const p = batch[results.length] as Pending;
      let delivered = 0;
      if (!s.duplicate) {
        try {
          delivered = await hub.publishToRoom(message.room, { kind: 'message', message, ...(p.style ? { style: p.style } : {}) });
        } catch {
          // Stored is stored: the ack stands, and clients that missed the fan-out catch up by resuming.
        }
      }
      results.push({ message, duplicate: s.duplicate, delivered });
    }
    const shown = results.filter((r) => !(r instanceof Error)).length;
    unsynced += shown;
    lastDurable = durable;
    void durable.finally(() => (unsynced -= shown)).then(
      () => batch.forEach((p, i) => settle(p, results[i] as SendResult | Error)),
      // Committed but not known to be on disk: the sender is told to try again; a resend with the
      // same client id finds the stored message instead of storing it twice.
      () =>
        batch.forEach((p, i) => {
          const r = results[i];
          p.reject(r instanceof Error ? r : new AppError('DATABASE_UNAVAILABLE', 'The message could not be made durable; send it again'));
        }),
    );
    if (queue.length > 0) setImmediate(() => void flush());
    else {
      flushing = false;
      for (const wake of idleWaiters.splice(0)) wake();
    }
  }

  /** Waits until every queued send is stored and its sync settled (before the database closes). */
  async function drain(): Promise<void> {
    if (flushing) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    await lastDurable.catch(() => {});
  }

  function settle(p: Pending, r: SendResult | Error) {
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  }

  function persist(row: messages.MessageRow, style?: SendInput['style']): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      queue.push({ row, style, resolve, reject });
      if (!flushing) {
        flushing = true;
        // Let every frame that arrived in this turn of the event loop join the batch.
        setImmediate(() => void flush());
      }
    });
  }

  function checkBody(body: string) {
    if (body.trim() === '') throw new AppError('VALIDATION_FAILED', 'A message needs some text');
    if (body.length > MAX_BODY_CHARS) {
      throw new AppError('PAYLOAD_TOO_LARGE', `Messages are at most ${MAX_BODY_CHARS} characters`);
    }
  }

  function newRow(room: RoomInfo, sender: Participant, input: SendInput): messages.MessageRow {
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
      created_at: clock.now(),
    };
  }

  /**
   * A member sends into a room (or DM). Resolves as soon as the message is queued — in the order
   * of calls — with `committed`, which resolves once the message is stored and fanned out.
   */
  async function enqueue(user: User, roomId: number, input: SendInput): Promise<{ committed: Promise<SendResult> }> {
    if (!input.file) checkBody(input.body);
    const room = await rooms.requireMember(user, roomId);
    return { committed: persist(newRow(room, { key: `u${user.id}`, userId: user.id, name: user.username }, input), input.style) };
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
    return persist(newRow(room, sender, input), input.style);
  }

  /** A seed 004 guest (no account) speaks in a public room it follows. */
  async function sendAsGuest(guest: Participant, room: RoomInfo, input: SendInput): Promise<SendResult> {
    if (room.visibility !== 'public' || room.kind !== 'room') throw new AppError('NOT_MEMBER', 'Guests use public rooms only');
    return post(room, guest, input);
  }

  /** Pages back through a room: messages before `before` (default: the newest), oldest first. */
  async function history(user: User, roomId: number, before: number | undefined, limit = 50) {
    const room = await rooms.requireMember(user, roomId);
    const n = Math.min(Math.max(1, limit), HISTORY_MAX);
    const rows = await messages.listBefore(db, room.id, before ?? Number.MAX_SAFE_INTEGER, n + 1);
    const page = rows.slice(0, n).reverse();
    return { room, messages: page.map(toMessage), hasMore: rows.length > n };
  }

  /**
   * Sends a reconnecting connection every message after `after`, in order and exactly once, then
   * lets live messages through. `pace` lets the transport wait for its socket to drain.
   */
  /**
   * Sends a connection every message after `after`, in order and exactly once, then lets live
   * messages through. Only rooms the connection follows (its user is a member of) can be replayed.
   * `pace` lets the transport wait for its socket to drain; it is asked every few messages.
   * With `begun`, the transport already started holding live messages (cursors given at connect).
   */
  async function replay(
    user: User,
    conn: HubConnection,
    roomId: number,
    after: number,
    options: { pace?: () => Promise<void>; begun?: boolean } = {},
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
        const page = await messages.listAfter(db, room.id, cursor, REPLAY_PAGE);
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

  /**
   * After a machine crash, messages members saw may not have reached the disk (SQLite fans out at
   * commit and acks at fsync). Their sequence numbers must never name another message: skip well
   * past anything a run can have shown unsynced (at most MAX_UNSYNCED plus one batch).
   */
  async function recoverFromLostCommits(): Promise<boolean> {
    if (!database.lostUnsyncedCommits) return false;
    await messages.skipSequences(db, LOST_SEQ_GAP);
    database.lossHandled();
    return true;
  }

  return { recoverFromLostCommits, drain, enqueue, send, enqueueShare, shareFile, post, sendAsGuest, history, replay };
}
