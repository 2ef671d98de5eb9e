import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './errors.js';
import type { RemoteFile } from './files-api.js';

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
  const res = await api.authorized(api.url(`/api/files/${encodeURIComponent(meta.id)}/content`), () => ({
    headers: (offset > 0 ? { range: `bytes=${offset}-` } : {}) as Record<string, string>,
    signal: o.signal ?? null,
  }));
  if (res.status === 416 && offset === meta.size) {
    await res.body?.cancel();
  } else if (res.status !== 200 && res.status !== 206) {
    throw api.failure(res.status, await res.json().catch(() => ({})));
  }
  // A server that ignores the range sends the whole file: start over.
  if (res.status === 200) offset = 0;
  const hash = createHash('sha256');
  if (offset > 0) for await (const chunk of createReadStream(part, { start: 0, end: offset - 1 })) hash.update(chunk as Buffer);
  let done = offset;
  o.progress(done);
  if (res.body && res.status !== 416) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, next) {
        hash.update(chunk);
        done += chunk.length;
        o.progress(done);
        next(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as never), counter, createWriteStream(part, { flags: offset > 0 ? 'a' : 'w', mode: 0o644 }));
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
  return { path: target, resumedFrom: res.status === 206 || res.status === 416 ? offset : 0 };
}

function writeFailure(api: ApiClient, err: unknown, part: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return new ClientError('DISK_FULL', `The disk is full. The partial download is kept at ${part}; free some space and run the command again to resume.`, EXIT.limit);
  if (code === 'EACCES' || code === 'EROFS') return new ClientError('CANNOT_WRITE', `Cannot write ${part} (${code}). Choose another place with -o.`, EXIT.failure);
  if (err instanceof ClientError || (err as Error)?.name === 'AbortError') return err;
  return new ClientError('UNREACHABLE', `The download from ${api.server} was cut (${(err as Error).message}). The partial file is kept; run the command again to resume.`, EXIT.unreachable);
}
