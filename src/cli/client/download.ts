import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, rename, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';
import type { RemoteFile } from './files-api.js';
import { unreachable } from './network-errors.js';

/**
 * A server-given name as a plain file name: the last segment only (after `/` or `\`), no control
 * characters; an empty, `.` or `..` name becomes the file's id. Never a path.
 */
export function safeFileName(name: string, fallback: string): string {
  const last = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return last === '' || last === '.' || last === '..' ? fallback : last;
}

/** Where the file goes: into a directory (the current one, or -o DIR) under its safe name, or to -o FILE. */
export async function downloadTarget(output: string | undefined, name: string, id: string): Promise<string> {
  const isDir = output === undefined || /[/\\]$/.test(output) || (await stat(output).then((s) => s.isDirectory(), () => false));
  if (!isDir) return path.resolve(output);
  const dir = path.resolve(output ?? '.');
  const target = path.resolve(dir, safeFileName(name, id));
  // Belt and braces: whatever the name was, the file lands directly inside the chosen directory.
  if (path.dirname(target) !== dir) throw new ClientError('UNSAFE_NAME', `Refusing the server's file name "${name}".`, EXIT.failure);
  return target;
}

const sizeOf = (p: string) => stat(p).then((s) => s.size, () => -1);

/** A GET over node:http (the body piped straight to the file: fetch's web stream cost ~1.8× curl's time). */
function get(api: ApiClient, url: string, headers: Record<string, string>, token: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = (target.protocol === 'https:' ? httpsGet : httpGet)(target, {
      headers: { ...headers, authorization: `Bearer ${token}` },
      ...(signal ? { signal } : {}),
    });
    req.on('response', resolve);
    req.on('error', (err) => reject(unreachable(api.server, err)));
  });
}

async function jsonBody(res: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

export interface DownloadOptions {
  output?: string | undefined;
  force: boolean;
  signal?: AbortSignal;
  progress(done: number): void;
}

/**
 * Downloads into `<target>.part`, resuming a partial one with `Range`, hashes it as it goes and
 * renames it into place only when its SHA-256 is the server's.
 */
export async function downloadFile(api: ApiClient, meta: RemoteFile, o: DownloadOptions): Promise<{ path: string; resumedFrom: number }> {
  const target = await downloadTarget(o.output, meta.name, meta.id);
  if (!o.force && (await sizeOf(target)) >= 0) {
    throw new ClientError('EXISTS', `${target} already exists. Add --force to replace it, or choose another path with -o.`, EXIT.conflict);
  }
  const part = `${target}.part`;
  let offset = await sizeOf(part);
  if (offset > meta.size) {
    await truncate(part, 0);
    offset = 0;
  }
  offset = Math.max(offset, 0);
  const url = api.url(`/api/files/${encodeURIComponent(meta.id)}/content`);
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  let res = await get(api, url, headers, await api.accessToken(), o.signal);
  if (res.statusCode === 401) {
    res.resume();
    res = await get(api, url, headers, await api.renew(), o.signal);
  }
  const status = res.statusCode ?? 0;
  if (status === 416 && offset === meta.size) {
    res.resume();
  } else if (status !== 200 && status !== 206) {
    throw api.failure(status, await jsonBody(res));
  }
  // A server that ignores the range sends the whole file: start over.
  if (status === 200) offset = 0;
  const hash = createHash('sha256');
  if (offset > 0) for await (const chunk of createReadStream(part, { start: 0, end: offset - 1 })) hash.update(chunk as Buffer);
  let done = offset;
  o.progress(done);
  if (status !== 416) {
    try {
      const fh = await open(part, offset > 0 ? 'a' : 'w', 0o644);
      try {
        await receive(res, fh, hash, (n) => {
          done += n;
          o.progress(done);
        });
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw writeFailure(api, err, part);
    }
  }
  const sha = hash.digest('hex');
  if (done !== meta.size || sha !== meta.sha256) {
    await rm(part, { force: true });
    throw new ClientError('CHECKSUM_MISMATCH', `The downloaded bytes do not match the server's SHA-256 (${done} of ${meta.size} bytes). The partial file was removed; run the command again.`, EXIT.failure);
  }
  await rename(part, target);
  return { path: target, resumedFrom: status === 206 || status === 416 ? offset : 0 };
}

/** Bytes gathered before one write: 1 MiB writes instead of one per socket read (~32 KiB). */
const BATCH = 1024 * 1024;

/**
 * The body into `fh` in batches of BATCH bytes, each hashed once whole: ~30,000 small writes per
 * GiB (a thread-pool round trip each) and a stream stage per chunk cost ~16% more CPU (user+sys)
 * than this in a standalone prototype (decision 0007's update). One write at a time; the socket
 * pauses while one is behind.
 * A cut or a failed write rejects only once the write in flight has finished, so what the part
 * file holds was hashed, whole.
 */
function receive(res: IncomingMessage, fh: FileHandle, hash: Hash, received: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let parts: Buffer[] = [];
    let size = 0;
    let writing = false;
    let ended = false;
    let failed: unknown;
    const finish = () => (failed !== undefined ? reject(failed) : resolve());
    const flush = () => {
      const batch = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
      parts = [];
      size = 0;
      writing = true;
      fh.write(batch).then(
        () => {
          hash.update(batch);
          received(batch.length);
          writing = false;
          if (failed !== undefined) return finish();
          if (size >= BATCH || (ended && size > 0)) return flush();
          if (ended) return finish();
          res.resume();
        },
        (err: unknown) => {
          writing = false;
          failed = err;
          res.destroy();
          finish();
        },
      );
    };
    res.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      size += chunk.length;
      if (size < BATCH) return;
      if (writing) res.pause();
      else flush();
    });
    res.on('end', () => {
      ended = true;
      if (writing) return;
      if (size > 0) flush();
      else finish();
    });
    const cut = (err: unknown) => {
      failed ??= err;
      ended = true;
      if (!writing) finish();
    };
    res.on('error', cut);
    // A body that stops short (the server went away) without an error event is a cut too.
    res.on('close', () => {
      if (!res.complete) cut(new Error('the connection closed before the end of the file'));
    });
  });
}

function writeFailure(api: ApiClient, err: unknown, part: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return new ClientError('DISK_FULL', `The disk is full. The partial download is kept at ${part}; free some space and run the command again to resume.`, EXIT.limit);
  if (code === 'EACCES' || code === 'EROFS') return new ClientError('CANNOT_WRITE', `Cannot write ${part} (${code}). Choose another place with -o.`, EXIT.failure);
  if (err instanceof ClientError || (err as Error)?.name === 'AbortError') return err;
  return new ClientError('UNREACHABLE', `The download from ${api.server} was cut (${(err as Error).message}). The partial file is kept; run the command again to resume.`, EXIT.unreachable);
}
