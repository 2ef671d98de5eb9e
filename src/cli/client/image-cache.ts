import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

/** The cache's default bound; the least recently used entries go first past it. */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

export interface CacheEntry {
  /** The cached bytes. */
  file: string;
  etag: string;
  size: number;
  name: string;
}

/**
 * A small web cache under `$XDG_CACHE_HOME/plaza/images/`: `<key>.bin` holds an image's bytes,
 * `<key>.json` its validator; the key is the server, the user and the file id. A broken entry is
 * a miss. Use marks an entry's mtime, and `evict` keeps the total under a bound (LRU).
 */
export class ImageCache {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = path.join(cacheDir, 'images');
  }

  key(server: string, userId: number | undefined, fileId: string): string {
    return createHash('sha256').update(JSON.stringify([server, userId, fileId])).digest('hex').slice(0, 40);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    try {
      const meta = JSON.parse(await readFile(path.join(this.dir, `${key}.json`), 'utf8')) as Partial<CacheEntry>;
      const file = path.join(this.dir, `${key}.bin`);
      const s = await stat(file);
      if (typeof meta.etag !== 'string' || s.size !== meta.size) throw new Error('stale');
      return { file, etag: meta.etag, size: s.size, name: String(meta.name ?? '') };
    } catch {
      await this.drop(key);
      return undefined;
    }
  }

  /** Where a new body is written before `commit` (a temp beside it). */
  partFile(key: string): string {
    return path.join(this.dir, `${key}.bin.part`);
  }

  async commit(key: string, etag: string, size: number, name: string): Promise<CacheEntry> {
    const { rename } = await import('node:fs/promises');
    const file = path.join(this.dir, `${key}.bin`);
    await rename(this.partFile(key), file);
    await writeFileAtomic(path.join(this.dir, `${key}.json`), JSON.stringify({ etag, size, name }), 0o600);
    return { file, etag, size, name };
  }

  async touch(key: string): Promise<void> {
    const now = new Date();
    await utimes(path.join(this.dir, `${key}.bin`), now, now).catch(() => {});
  }

  async drop(key: string): Promise<void> {
    for (const ext of ['.bin', '.json', '.bin.part']) await rm(path.join(this.dir, `${key}${ext}`), { force: true });
  }

  /** Removes the least recently used entries until the cache holds at most `maxBytes`. */
  async evict(maxBytes: number, keep?: string): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const entries: Array<{ key: string; size: number; used: number }> = [];
    for (const n of names.filter((x) => x.endsWith('.bin'))) {
      const s = await stat(path.join(this.dir, n)).catch(() => undefined);
      if (s) entries.push({ key: n.slice(0, -4), size: s.size, used: s.mtimeMs });
    }
    let total = entries.reduce((t, e) => t + e.size, 0);
    let evicted = 0;
    for (const e of entries.sort((a, b) => a.used - b.used)) {
      if (total <= maxBytes) break;
      if (e.key === keep) continue;
      await this.drop(e.key);
      total -= e.size;
      evicted++;
    }
    return evicted;
  }
}
