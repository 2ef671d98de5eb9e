import { clientNetwork } from '../shared/client-network.js';

/**
 * How a share link counts downloads when clients ask for ranges. A body spends a download unless
 * it fits in the budget of the same client's open download: spending one opens a window holding
 * the file's size in bytes, and every body served to that client (same link, same client network:
 * its IPv4 address or IPv6 /64, see `clientNetwork`) within the window is charged to it. A
 * download manager that resumes a cut transfer (`Range: bytes=N-`) therefore spends nothing more,
 * while fifty `bytes=1-` requests spend fifty downloads' worth: a counted download yields the
 * file's bytes once, however it is sliced.
 *
 * A cut connection may have swallowed what the server read but the client never received (socket
 * buffers, a few MiB), so bytes read by a body that did not finish are given back, up to
 * CUT_ALLOWANCE once per window; bytes never read are always given back.
 *
 * The window opens before the download is spent (the spend is a database write), so a segmented
 * downloader's parallel first requests join it and wait for that one spend instead of each
 * spending their own; when the spend fails (used up, expired) they all get its error.
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
  /** Settles once the download this window holds is spent; rejects (the window is gone) when it could not be. */
  spent: Promise<void>;
}

export function createDownloadWindows() {
  const open = new Map<string, DownloadWindow>();
  const keyOf = (shareId: string, client: string) => `${shareId} ${clientNetwork(client)}`;

  /** The client's open window if `length` fits in it, charged; undefined when a download must be spent. */
  function take(shareId: string, client: string, length: number, now: number): DownloadWindow | undefined {
    const key = keyOf(shareId, client);
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
    const w = open.get(keyOf(shareId, client));
    return w !== undefined && w.expiresAt > now && w.remaining > 0;
  }

  /** A fresh window, already charged with its first body, for the download `spend` spends. */
  function start(shareId: string, client: string, size: number, length: number, now: number, spend: () => Promise<void>): DownloadWindow {
    const w: DownloadWindow = {
      key: keyOf(shareId, client),
      remaining: size - length,
      allowance: Math.min(size, CUT_ALLOWANCE),
      expiresAt: 0,
      spent: Promise.resolve(),
    };
    // In the map before the spend starts: requests arriving meanwhile join this window. A spend
    // that fails puts back the window it replaced (a body too big for it), which still holds its bytes.
    const previous = open.get(w.key);
    touch(w, now);
    if (open.size > MAX_WINDOWS) open.delete(open.keys().next().value as string);
    w.spent = (async () => {
      try {
        await spend();
      } catch (err) {
        if (open.get(w.key) === w) {
          open.delete(w.key);
          if (previous) open.set(w.key, previous);
        }
        throw err;
      }
    })();
    return w;
  }

  /**
   * Charges a body of `length` bytes to the client's window, opening one when it does not fit and
   * spending a download with `spend` (which throws when the link cannot give one). Resolves once
   * the window's download is spent, whoever spent it.
   */
  async function charge(shareId: string, client: string, length: number, size: number, now: number, spend: () => Promise<void>): Promise<DownloadWindow> {
    const w = take(shareId, client, length, now) ?? start(shareId, client, size, length, now, spend);
    await w.spent;
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

  return { charge, settle, isOpen };
}
