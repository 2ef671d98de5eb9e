import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { EXIT } from '../exit-codes.js';
import type { ApiClient } from './api-client.js';
import { writeFileAtomic } from './atomic-file.js';
import { ClientError } from './errors.js';
import { unreachable } from './network-errors.js';
import type { RemoteFile } from './files-api.js';

const TUS = { 'tus-resumable': '1.0.0' };
const CREATE_PATH = '/api/files/tus';
/** A cut PATCH is retried from the server's offset this many times. */
const ATTEMPTS = 4;

export interface LocalFile {
  /** Absolute path: bytes, so a name that is not UTF-8 (found by --recursive) still opens. */
  path: Buffer;
  /** The name the server is given. */
  name: string;
  size: number;
  mtimeMs: number;
}

export interface UploadHooks {
  /** Called once the starting offset is known (above 0 when resuming). */
  start(offset: number): void;
  progress(done: number): void;
  signal?: AbortSignal | undefined;
}

/**
 * The place an unfinished upload's URL is remembered, keyed by server, user, path, size and
 * modification time: the same file uploaded again resumes; a changed file starts over.
 */
function stateFile(api: ApiClient, cacheDir: string, f: LocalFile): string {
  const key = createHash('sha256')
    .update(JSON.stringify([api.server, api.loggedIn?.userId, f.path.toString('hex'), f.size, f.mtimeMs]))
    .digest('hex')
    .slice(0, 32);
  return path.join(cacheDir, 'uploads', `${key}.json`);
}

async function savedUrl(file: string): Promise<string | undefined> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as { url?: unknown };
    return typeof s.url === 'string' ? s.url : undefined;
  } catch {
    return undefined;
  }
}

/** The server's offset for a saved upload, or undefined when it is gone (finished, expired, not ours). */
async function serverOffset(api: ApiClient, url: string, signal?: AbortSignal): Promise<number | undefined> {
  const res = await api.authorized(url, () => ({ method: 'HEAD', headers: { ...TUS, 'cache-control': 'no-store' }, signal: signal ?? null }));
  res.discard();
  const offset = Number(res.headers.get('upload-offset'));
  if (!res.ok || !Number.isSafeInteger(offset)) return undefined;
  return offset;
}

const metadata = (name: string) => `filename ${Buffer.from(name, 'utf8').toString('base64')}`;

async function create(api: ApiClient, f: LocalFile, signal?: AbortSignal): Promise<{ url?: string; file?: RemoteFile }> {
  const res = await api.authorized(api.url(CREATE_PATH), () => ({
    method: 'POST',
    headers: { ...TUS, 'upload-length': String(f.size), 'upload-metadata': metadata(f.name) },
    signal: signal ?? null,
  }));
  if (res.status !== 201) throw api.failure(res.status, await res.json().catch(() => ({})));
  const location = res.headers.get('location');
  const text = await res.text();
  // A 0-byte upload is finished by its creation: the reply already carries the file.
  const body = text ? (JSON.parse(text) as { file?: RemoteFile }) : {};
  if (body.file) return { file: body.file };
  if (!location) throw new ClientError('BAD_REPLY', 'The server did not say where to send the upload (no Location).');
  return { url: new URL(location, `${api.server}/`).href };
}

/**
 * One PATCH of the file from `offset` over node:http (a file stream piped straight into the socket:
 * fetch's web-stream body cost ~2× curl's time); never past the announced length, even when the file
 * grows meanwhile (reported after the upload).
 */
function patchOnce(api: ApiClient, url: string, token: string, f: LocalFile, offset: number, hooks: UploadHooks) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
      method: 'PATCH',
      headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', authorization: `Bearer ${token}` },
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    });
    request.on('error', (err) => reject(unreachable(api.server, err)));
    request.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', (err) => reject(unreachable(api.server, err)));
    });
    if (offset >= f.size) {
      request.end();
      return;
    }
    let sent = offset;
    const source = createReadStream(f.path, { start: offset, end: f.size - 1, highWaterMark: 1024 * 1024 });
    source.on('data', (chunk) => {
      sent += chunk.length;
      hooks.progress(sent);
    });
    source.on('error', (err) => {
      request.destroy(err);
      reject(err);
    });
    source.pipe(request);
  });
}

/** The rest of the file from `offset`; a 401 renews the token once. The finished file when this was the last byte. */
async function patch(api: ApiClient, url: string, f: LocalFile, offset: number, hooks: UploadHooks) {
  let res = await patchOnce(api, url, await api.accessToken(), f, offset, hooks);
  if (res.status === 401) res = await patchOnce(api, url, await api.renew(), f, offset, hooks);
  let body: { file?: RemoteFile } = {};
  try {
    body = res.text ? (JSON.parse(res.text) as { file?: RemoteFile }) : {};
  } catch {
    body = {};
  }
  if (res.status < 200 || res.status > 299) throw api.failure(res.status, body);
  return body.file;
}

/**
 * Uploads one file with tus 1.0: resumes the saved upload of the same file when the server still
 * has it, else creates one; a cut connection resumes from the server's offset.
 */
export async function tusUpload(api: ApiClient, cacheDir: string, f: LocalFile, hooks: UploadHooks): Promise<RemoteFile> {
  const state = stateFile(api, cacheDir, f);
  let url = await savedUrl(state);
  let offset = url ? await serverOffset(api, url, hooks.signal) : undefined;
  if (url === undefined || offset === undefined) {
    const created = await create(api, f, hooks.signal);
    if (created.file) {
      hooks.start(f.size);
      return created.file;
    }
    url = created.url as string;
    offset = 0;
    await writeFileAtomic(state, JSON.stringify({ url, path: f.path.toString(), size: f.size, createdAt: Date.now() }));
  }
  hooks.start(offset);
  for (let attempt = 1; ; attempt++) {
    try {
      const file = await patch(api, url, f, offset, hooks);
      if (!file) throw new ClientError('BAD_REPLY', 'The server accepted the last bytes but did not return the file.');
      await rm(state, { force: true });
      return file;
    } catch (err) {
      // The server no longer has the upload (expired, finished elsewhere): the next run starts over.
      if (err instanceof ClientError && (err.exit === EXIT.notFound || err.exit === EXIT.conflict)) await rm(state, { force: true });
      const cut = err instanceof ClientError && err.code === 'UNREACHABLE';
      if (!cut || attempt >= ATTEMPTS || hooks.signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
      const now = await serverOffset(api, url, hooks.signal).catch(() => undefined);
      if (now === undefined) throw err;
      offset = now;
    }
  }
}
