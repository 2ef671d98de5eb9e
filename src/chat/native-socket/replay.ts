import type { RoomInfo } from '../model.js';
import type { FrameOf } from '../protocol.js';
import { replyFrame } from '../protocol.js';
import type { NativeConnection } from './context.js';

/** Catching a connection up: cursors given at connect (`?resume=`) or later in a `resume` frame. */

type Replayed = Array<{ room: number; replayed: number; lastSeq: number }>;

/** A `resume` frame: each room replayed in turn (a failing room answers an error and the next goes on), then `resumed`. */
export async function resume(c: NativeConnection, frame: FrameOf<'resume'>): Promise<void> {
  const results: Replayed = [];
  for (const cursor of frame.rooms) {
    try {
      const r = await c.chat.messages.replay(c.user, c.conn, cursor.room, cursor.after, { pace: c.pace });
      results.push({ room: cursor.room, replayed: r.replayed, lastSeq: r.room.lastSeq });
    } catch (err) {
      c.replyError(err, frame.ref);
    }
  }
  c.out.send(replyFrame('resumed', frame.ref, { rooms: results }));
}

/** Cursors given at connect: those rooms were held from the first instant, so order is strict. */
export async function replayAtConnect(c: NativeConnection, rooms: RoomInfo[], cursors: ReadonlyMap<number, number>): Promise<void> {
  if (cursors.size === 0) return;
  const followed = new Set(rooms.map((r) => r.id));
  const results: Replayed = [];
  for (const [room, after] of cursors) {
    try {
      const r = await c.chat.messages.replay(c.user, c.conn, room, after, { pace: c.pace, begun: followed.has(room) });
      results.push({ room, replayed: r.replayed, lastSeq: r.room.lastSeq });
    } catch (err) {
      c.replyError(err);
    }
  }
  c.out.send(replyFrame('resumed', undefined, { rooms: results }));
}
