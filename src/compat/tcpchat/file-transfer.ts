import { PassThrough } from 'node:stream';
import type { User } from '../../accounts/model.js';
import type { Core } from '../../app.js';
import type { ChatMessage } from '../../chat/model.js';
import { describeFailure, failure, logFailure } from '../../shared/error-map.js';
import type { OrderedQueue } from '../../shared/ordered-queue.js';
import type { DoorLog } from './context.js';
import { FILE_CHUNK_BYTES, parseFileInfo } from './framing.js';
import type { PacedWriter } from './paced-writer.js';
import type { DataPhase, Phase } from './reader.js';
import { BAD_FILE_NAME, BAD_FILE_SIZE, chatLine, FILE_REFUSED, fileRefusal, HEADER_FILE } from './words.js';

/**
 * Files both ways. In: a `[FILE]` info line starts storing exactly `size` bytes through the files
 * service, then shares the file in the bridged room. Out: `[FILE]`, `<size>,<name>`, then the
 * stored bytes in writes of at most 65,536 bytes (the client's recv size), each drained and paced.
 */

export interface Upload {
  core: Core;
  owner: User;
  roomId: number;
  out: PacedWriter;
  /** The connection's sends and shares, in the order the client made them. */
  sends: OrderedQueue;
  rateLimited(): boolean;
  /** The reader re-checks whether to pause the socket. */
  flow(): void;
  closed(): boolean;
  log: DoorLog;
  track(p: Promise<unknown>): void;
}

/** A `[FILE]` info line arrived: the phase that stores (or discards) exactly `size` bytes. */
export function startUpload(u: Upload, rawInfo: Buffer): Phase {
  const parsed = parseFileInfo(rawInfo.toString('utf8').replace(/\r$/, ''));
  if ('error' in parsed) {
    if (parsed.error === 'size') {
      // The stream cannot be followed any more: skip what comes until the client is quiet.
      u.out.text(BAD_FILE_SIZE);
      return { kind: 'skip' };
    }
    u.out.text(BAD_FILE_NAME);
    // The size is known: its bytes are read and dropped, and the connection goes on.
    return { kind: 'data', remaining: parsed.size, sink: undefined, blocked: false };
  }
  if (u.rateLimited()) {
    u.out.text(fileRefusal(failure('RATE_LIMITED', 'slow down')));
    return { kind: 'data', remaining: parsed.size, sink: undefined, blocked: false };
  }
  const sink = new PassThrough({ highWaterMark: 256 * 1024 });
  const data: DataPhase = { kind: 'data', remaining: parsed.size, sink, blocked: false };
  const stop = () => {
    // Refused or failed: the rest of the announced bytes are read and dropped.
    if (data.sink === sink) {
      data.sink = undefined;
      data.blocked = false;
      u.flow();
    }
    sink.destroy();
  };
  sink.on('error', () => {});
  // upload() checks the size against the upload limit and the quota before storing a byte.
  const uploaded = u.core.files.upload(u.owner, sink, parsed.name, parsed.size);
  uploaded.catch(() => stop());
  u.sends.push(() => share(u, uploaded));
  u.track(u.sends.idle());
  if (parsed.size === 0) {
    data.sink = undefined;
    sink.end();
  }
  return data;
}

/** Once stored, the file is shared in the room; a refusal is told to the sender. */
async function share(u: Upload, uploaded: ReturnType<Core['files']['upload']>): Promise<void> {
  let fileId: string | undefined;
  try {
    const file = await uploaded;
    fileId = file.id;
    await u.core.chat.messages.shareFile(u.owner, u.roomId, file.id);
  } catch (err) {
    const f = describeFailure(err);
    logFailure(u.log, err, f, 'seed 003 TCP file failed');
    if (!u.closed()) u.out.text(fileRefusal(f));
    // Stored but not shared: do not keep a file nobody asked to keep.
    if (fileId) await u.core.files.remove(u.owner, fileId).catch(() => {});
  }
}

/** `[FILE]`, `<size>,<name>`, then the stored bytes; run as one job of the paced writer. */
export async function sendStoredFile(core: Core, out: PacedWriter, viewer: User, message: ChatMessage, closed: () => boolean) {
  const shared = message.file;
  if (!shared) return;
  let opened: Awaited<ReturnType<typeof core.files.open>>;
  let name: string;
  try {
    const file = await core.files.getReadable(viewer, shared.id);
    name = file.name;
    opened = await core.files.open(file);
  } catch {
    // Deleted since it was shared: say so instead of announcing bytes that cannot come.
    await out.textNow(chatLine(message.sender.name, `${shared.name} (${FILE_REFUSED})`));
    return;
  }
  const { fh, size } = opened;
  try {
    await out.chunk(Buffer.from(HEADER_FILE));
    await out.chunk(Buffer.from(`${size},${name}`, 'utf8'));
    let offset = 0;
    while (offset < size) {
      if (closed()) return;
      const want = Math.min(FILE_CHUNK_BYTES, size - offset);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(chunk, 0, want, offset);
      if (bytesRead === 0) throw new Error('stored file ended early');
      offset += bytesRead;
      // One read's worth of the client's recv(65536) per write, each drained and paced.
      await out.chunk(chunk.subarray(0, bytesRead));
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
