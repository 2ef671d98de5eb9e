import type { Database } from '../db/connect.js';
import { AppError } from '../shared/errors.js';
import type { Hub } from './hub.js';
import { LOST_SEQ_GAP } from './message-recovery.js';
import { type MessageStyle, toMessage } from './message-row.js';
import * as messages from './messages.repository.js';
import type { ChatMessage } from './model.js';

/**
 * The group-commit engine behind every send: rows queued in one turn of the event loop are stored
 * in one transaction, fanned out through the hub at commit and acknowledged once durable.
 */

/** Sends waiting for the database are written together, one transaction per batch. */
const BATCH_MAX = 512;
/** At most this many messages are shown to members before they are known durable. */
const MAX_UNSYNCED = LOST_SEQ_GAP / 4;

export interface SendResult {
  message: ChatMessage;
  /** The client id was seen before: this is the stored message, not a new one. */
  duplicate: boolean;
  /** Connections the message reached on this instance. */
  delivered: number;
}

interface Pending {
  row: messages.MessageRow;
  style: MessageStyle | undefined;
  resolve(r: SendResult): void;
  reject(err: unknown): void;
}

type Stored = { row: messages.MessageRow; duplicate: boolean };
type Trx = Database['db'];

interface BatcherState {
  database: Database;
  hub: Hub;
  queue: Pending[];
  flushing: boolean;
  /** Messages shown to members but not yet known durable, and the newest batch's sync. */
  unsynced: number;
  lastDurable: Promise<void>;
  idleWaiters: Array<() => void>;
  /** Messages stored (not counting idempotent resends) and the connections they reached, since start (metrics). */
  counts: { messages: number; deliveries: number };
}

export type MessageBatcher = ReturnType<typeof createMessageBatcher>;

export function createMessageBatcher({ database, hub }: { database: Database; hub: Hub }) {
  const state: BatcherState = {
    database,
    hub,
    queue: [],
    flushing: false,
    unsynced: 0,
    lastDurable: Promise.resolve(),
    idleWaiters: [],
    counts: { messages: 0, deliveries: 0 },
  };
  return {
    counts: state.counts as Readonly<BatcherState['counts']>,
    /** Queues a row; resolves once it is stored, fanned out and durable. */
    persist: (row: messages.MessageRow, style?: MessageStyle): Promise<SendResult> => persist(state, row, style),
    /** Waits until every queued send is stored and its sync settled (before the database closes). */
    drain: () => drain(state),
  };
}

function persist(state: BatcherState, row: messages.MessageRow, style?: MessageStyle): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    state.queue.push({ row, style, resolve, reject });
    if (!state.flushing) {
      state.flushing = true;
      // Let every frame that arrived in this turn of the event loop join the batch.
      setImmediate(() => void flush(state));
    }
  });
}

async function drain(state: BatcherState): Promise<void> {
  if (state.flushing) await new Promise<void>((resolve) => state.idleWaiters.push(resolve));
  await state.lastDurable.catch(() => {});
}

/**
 * Stores a batch with a few statements whatever its size: one lookup of earlier client ids per
 * sender, one sequence allocation per room, one multi-row insert.
 */
async function storeBatch(trx: Trx, rows: messages.MessageRow[]) {
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
  await messages.advanceSendersRead(trx, fresh);
  return out;
}

/**
 * Group commit: every send waiting when a flush starts shares one transaction. Its messages are
 * fanned out, in sequence order, as soon as it commits; each sender is acknowledged only once
 * the commit is durable (on SQLite the WAL's fsync runs off the event loop meanwhile, shared by
 * every batch waiting). The next batch does not wait for that fsync.
 */
async function flush(state: BatcherState): Promise<void> {
  const { database, hub, queue } = state;
  // Bound what a machine crash could take back, so LOST_SEQ_GAP always covers it: past the
  // limit, the next batch waits for the syncs under way.
  if (state.unsynced >= MAX_UNSYNCED) await state.lastDurable.catch(() => {});
  const batch = queue.splice(0, BATCH_MAX);
  let stored: Array<Stored | Error>;
  let durable: Promise<void>;
  try {
    ({ result: stored, durable } = await database.transactionDurableLater((trx) => storeBatch(trx, batch.map((p) => p.row))));
  } catch (err) {
    ({ stored, durable } = await storeOneByOne(database, batch, err));
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
    if (!s.duplicate) {
      state.counts.messages++;
      state.counts.deliveries += delivered;
    }
    results.push({ message, duplicate: s.duplicate, delivered });
  }
  acknowledgeWhenDurable(state, batch, results, durable);
  if (queue.length > 0) setImmediate(() => void flush(state));
  else {
    state.flushing = false;
    for (const wake of state.idleWaiters.splice(0)) wake();
  }
}

/**
 * The batch failed as a whole. One bad row (a file deleted meanwhile, a race on a client id) must
 * not fail the others: store each on its own, so only the guilty send is refused.
 */
async function storeOneByOne(database: Database, batch: Pending[], err: unknown) {
  const stored: Array<Stored | Error> = [];
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
  return { stored, durable: Promise.all(syncs).then(() => {}) };
}

/** Refusals of messages that were committed and shown to members, only not known durable. */
const shownNotDurable = new WeakSet<object>();

/** Whether a send's failure came after its message reached the room (so nothing else may show it again). */
export function wasShown(err: unknown): boolean {
  return typeof err === 'object' && err !== null && shownNotDurable.has(err);
}

function acknowledgeWhenDurable(state: BatcherState, batch: Pending[], results: Array<SendResult | Error>, durable: Promise<void>) {
  const shown = results.filter((r) => !(r instanceof Error)).length;
  state.unsynced += shown;
  state.lastDurable = durable;
  void durable.finally(() => (state.unsynced -= shown)).then(
    () => batch.forEach((p, i) => settle(p, results[i] as SendResult | Error)),
    // Committed but not known to be on disk: the sender is told to try again; a resend with the
    // same client id finds the stored message instead of storing it twice.
    () =>
      batch.forEach((p, i) => {
        const r = results[i];
        if (r instanceof Error) return p.reject(r);
        const refusal = new AppError('DATABASE_UNAVAILABLE', 'The message could not be made durable; send it again');
        shownNotDurable.add(refusal);
        p.reject(refusal);
      }),
  );
}

function settle(p: Pending, r: SendResult | Error) {
  if (r instanceof Error) p.reject(r);
  else p.resolve(r);
}
