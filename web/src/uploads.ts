import { computed, signal } from '@preact/signals';
import { DetailedError, Upload } from 'tus-js-client';
import { ApiError, errorFromBody, sentence } from './api.js';
import type { FileItem } from './types.js';

/**
 * The upload queue: every file goes through tus (resumable), a few at a time. tus-js-client keeps
 * each upload's URL in localStorage under the file's fingerprint (name, type, size, modification
 * time), so adding the same file again after a reload or a crash continues where it stopped.
 */

export type UploadStatus = 'queued' | 'uploading' | 'paused' | 'done' | 'error' | 'cancelled';

export interface UploadItem {
  key: number;
  name: string;
  size: number;
  sent: number;
  status: UploadStatus;
  /** Bytes per second, smoothed. */
  speed: number;
  /** Whether it continues an upload started earlier (before a reload, or a paused one). */
  resumed: boolean;
  error?: string;
  /** The connection was lost: tus-js-client is waiting to try again on its own. */
  retrying?: boolean;
  /** The failure cannot be undone by trying again (over the quota, over the size limit): no Resume. */
  final?: boolean;
  file?: FileItem;
}

interface Running {
  upload: Upload;
  lastAt: number;
  lastSent: number;
}

const PARALLEL = 3;
export const TUS_ENDPOINT = '/api/files/tus';

export const uploads = signal<UploadItem[]>([]);
const running = new Map<number, Running>();
const sources = new Map<number, File>();
let nextKey = 1;
let onFinished: (file: FileItem) => void = () => {};
let limits: { maxUploadBytes?: number } = {};

export const totals = computed(() => {
  const live = uploads.value.filter((u) => u.status !== 'cancelled');
  const size = live.reduce((n, u) => n + u.size, 0);
  const sent = live.reduce((n, u) => n + (u.status === 'done' ? u.size : u.sent), 0);
  const speed = live.filter((u) => u.status === 'uploading').reduce((n, u) => n + u.speed, 0);
  const active = live.filter((u) => u.status === 'uploading' || u.status === 'queued').length;
  const done = live.filter((u) => u.status === 'done').length;
  const failed = live.filter((u) => u.status === 'error').length;
  return { size, sent, speed, active, count: live.length, done, failed };
});

function patch(key: number, change: Partial<UploadItem>) {
  uploads.value = uploads.value.map((u) => (u.key === key ? { ...u, ...change } : u));
}

/** What the file list does when an upload lands, and the server's size limit for messages. */
export function configureUploads(options: { onFinished: (file: FileItem) => void; maxUploadBytes?: number }) {
  onFinished = options.onFinished;
  limits = options.maxUploadBytes === undefined ? {} : { maxUploadBytes: options.maxUploadBytes };
}

export function addFiles(files: Iterable<File>) {
  const added: UploadItem[] = [];
  for (const f of files) {
    const key = nextKey++;
    sources.set(key, f);
    added.push({ key, name: f.name, size: f.size, sent: 0, status: 'queued', speed: 0, resumed: false });
  }
  uploads.value = [...uploads.value, ...added];
  pump();
}

function pump() {
  const busy = uploads.value.filter((u) => u.status === 'uploading').length;
  const waiting = uploads.value.filter((u) => u.status === 'queued').slice(0, Math.max(0, PARALLEL - busy));
  for (const u of waiting) void begin(u.key);
}

/** Refusals that the same file will meet again however often it is retried. */
const FINAL = new Set(['QUOTA_EXCEEDED', 'PAYLOAD_TOO_LARGE', 'FILE_TOO_LARGE']);

/** tus errors carry Plaza's JSON body; a dropped network has no response at all. */
function describe(err: Error): { error: string; final: boolean } {
  if (err instanceof DetailedError && err.originalResponse) {
    const res = err.originalResponse;
    const e = errorFromBody(res.getStatus(), res.getBody() ?? '', res.getHeader('retry-after'));
    return { error: sentence(e, limits), final: FINAL.has(e.code) };
  }
  return { error: sentence(new ApiError('NETWORK', 'The connection to Plaza was lost. Resume to try again.', 0)), final: false };
}

/** Lost connections and a busy server are retried; a refusal (quota, size, login) is final. */
function shouldRetry(err: DetailedError): boolean {
  const res = err.originalResponse;
  if (!res) return true;
  const status = res.getStatus();
  if (status === 409 || status === 423 || status === 429) return true;
  if (status < 500 || status === 507) return false;
  return true;
}

async function begin(key: number) {
  const file = sources.get(key);
  if (!file) return;
  patch(key, { status: 'uploading', error: undefined, retrying: false });
  const upload = new Upload(file, {
    endpoint: TUS_ENDPOINT,
    // A dropped network is retried on its own, with growing pauses.
    retryDelays: [0, 1000, 3000, 5000, 10_000, 20_000],
    metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
    onShouldRetry(err) {
      const again = shouldRetry(err);
      // Said on the row until bytes move again, so a stalled bar does not read as "uploading".
      if (again) patch(key, { retrying: true, speed: 0 });
      return again;
    },
    storeFingerprintForResuming: true,
    removeFingerprintOnSuccess: true,
    chunkSize: 64 * 1024 * 1024,
    onProgress(sent) {
      const r = running.get(key);
      const now = performance.now();
      let speed = uploads.value.find((u) => u.key === key)?.speed ?? 0;
      if (r && now - r.lastAt >= 250) {
        // After a retry the count may restart lower (from the server's offset): no negative speed.
        const instant = Math.max(0, ((sent - r.lastSent) * 1000) / (now - r.lastAt));
        speed = speed === 0 ? instant : speed * 0.7 + instant * 0.3;
        r.lastAt = now;
        r.lastSent = sent;
      }
      patch(key, { sent, speed, retrying: false });
    },
    onSuccess({ lastResponse }) {
      running.delete(key);
      sources.delete(key);
      let stored: FileItem | undefined;
      try {
        stored = (JSON.parse(lastResponse.getBody() || '{}') as { file?: FileItem }).file;
      } catch {}
      patch(key, { status: 'done', sent: file.size, speed: 0, ...(stored ? { file: stored } : {}) });
      if (stored) onFinished(stored);
      pump();
    },
    onError(err) {
      running.delete(key);
      const failure = describe(err);
      if (failure.final) {
        // Nothing to continue later: the partial upload (if one was made) goes, and so does its fingerprint.
        sources.delete(key);
        void upload.abort(true).catch(() => {});
      }
      patch(key, { status: 'error', speed: 0, ...failure });
      pump();
    },
  });
  running.set(key, { upload, lastAt: performance.now(), lastSent: 0 });
  const previous = await upload.findPreviousUploads().catch(() => []);
  const last = previous[0];
  if (last) upload.resumeFromPreviousUpload(last);
  if (last) patch(key, { resumed: true });
  upload.start();
}

export function pause(key: number) {
  const r = running.get(key);
  if (!r) return;
  running.delete(key);
  void r.upload.abort(false);
  patch(key, { status: 'paused', speed: 0 });
  pump();
}

export function resume(key: number) {
  patch(key, { status: 'queued', error: undefined });
  pump();
}

export function cancel(key: number) {
  const r = running.get(key);
  running.delete(key);
  sources.delete(key);
  // Terminating deletes the partial upload on the server (and its fingerprint here).
  if (r) void r.upload.abort(true).catch(() => {});
  patch(key, { status: 'cancelled', speed: 0 });
  pump();
}

/** Takes a failed upload off the list (one that cannot succeed: there is nothing to resume). */
export function dismiss(key: number) {
  sources.delete(key);
  uploads.value = uploads.value.filter((u) => u.key !== key);
}

export function clearFinished() {
  uploads.value = uploads.value.filter((u) => u.status !== 'done' && u.status !== 'cancelled');
}

/** Uploads interrupted by a reload or a closed tab: add the same files again to continue them. */
export function unfinishedFromEarlier(): { name: string; size: number }[] {
  const found: { name: string; size: number }[] = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (!k?.startsWith('tus::')) continue;
      const v = JSON.parse(localStorage.getItem(k) ?? '{}') as { size?: number; metadata?: { filename?: string } };
      if (v.metadata?.filename) found.push({ name: v.metadata.filename, size: v.size ?? 0 });
    }
  } catch {}
  return found;
}
