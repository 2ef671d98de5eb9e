/**
 * How a share link counts downloads when clients ask for ranges. A body spends a download unless
 * it fits in the budget of the same client's open download: spending one opens a window holding
 * the file's size in bytes, and every body served to that client (same link, same IP) within the
 * window is charged to it. A download manager that resumes a cut transfer (`Range: bytes=N-`)
 * therefore spends nothing more, while fifty `bytes=1-` requests spend fifty downloads' worth:
 * a counted download yields the file's bytes once, however it is sliced.
 *
 * A cut connection may have swallowed what the server read but the client never received (socket
 * buffers, a few MiB), so bytes read by a body that did not finish are given back, up to
 * CUT_ALLOWANCE once per window; bytes never read are always given back.
 */

/** More than Linux's largest default TCP send + receive buffers together. */
export const CUT_ALLOWANCE = 16 * 1024 * 1024;
/** A window closes this long after its last body. */
export const WINDOW_MS = 3600_000;
/** Windows kept at most (the oldest go first: a forgotten window only means one more spend). */
const MAX_WINDOWS = 10_000;

export interface SentBody {
  /** Bytes read from the file for this body. */
  bytes: number;
  /** The whole body reached the operating system. */
  complete: boolean;
}

export interface DownloadWindow {
  key: string;
  remaining: number;
  allowance: number;
  expiresAt: number;
}

export function createDownloadWindows() {
  const open = new Map<string, DownloadWindow>();

  /** The client's open window if `length` fits in it, charged; undefined when a download must be spent. */
  function take(shareId: string, client: string, length: number, now: number): DownloadWindow | undefined {
    const key = `${shareId} ${client}`;
    const w = open.get(key);
    if (!w || w.expiresAt <= now) {
      open.delete(key);
      return undefined;
    }
    if (length > w.remaining) return undefined;
    w.remaining -= length;
    touch(w, now);
    return w;
  }

  function isOpen(shareId: string, client: string, now: number): boolean {
    const w = open.get(`${shareId} ${client}`);
    return w !== undefined && w.expiresAt > now && w.remaining > 0;
  }

  /** A fresh window for a download just spent, already charged with its first body. */
  function start(shareId: string, client: string, size: number, length: number, now: number): DownloadWindow {
    const w: DownloadWindow = { key: `${shareId} ${client}`, remaining: size - length, allowance: Math.min(size, CUT_ALLOWANCE), expiresAt: 0 };
    touch(w, now);
    if (open.size > MAX_WINDOWS) open.delete(open.keys().next().value as string);
    return w;
  }

  function touch(w: DownloadWindow, now: number) {
    w.expiresAt = now + WINDOW_MS;
    // Re-inserted: the map stays ordered by last use, so eviction drops the stalest.
    open.delete(w.key);
    open.set(w.key, w);
  }

  /** Gives back what a body charged but did not deliver. */
  function settle(w: DownloadWindow, length: number, sent: SentBody, now: number) {
    const unread = Math.max(0, length - sent.bytes);
    const lost = sent.complete ? 0 : Math.min(sent.bytes, w.allowance);
    w.allowance -= lost;
    w.remaining += unread + lost;
    if (open.get(w.key) === w) touch(w, now);
  }

  return { take, open: start, settle, isOpen };
}
