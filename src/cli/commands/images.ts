import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { ClientContext } from '../client/context.js';
import { ClientError } from '../client/errors.js';
import { listFiles } from '../client/files-api.js';
import { humanSize, printable } from '../client/format.js';
import { DEFAULT_CACHE_BYTES, ImageCache } from '../client/image-cache.js';
import { EXIT } from '../exit-codes.js';

/** The system's viewer, when there is one. */
function openWithViewer(file: string): boolean {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform !== 'win32' && spawnSync('which', [opener]).status !== 0) return false;
  spawn(opener, [file], { detached: true, stdio: 'ignore' }).unref();
  return true;
}

/**
 * `plaza images get <name>`: an image of yours (by name or id) into the local web cache,
 * revalidated with If-None-Match, so a second view costs a 304 and no body.
 */
export async function imagesGetCommand(ctx: ClientContext, ref: string, o: { open?: boolean }) {
  const { files } = await listFiles(ctx.api, { category: 'images' });
  const matches = files.filter((f) => f.id === ref || f.name === ref);
  if (matches.length === 0) throw new ClientError('NOT_FOUND', `No image named "${ref}". See \`plaza files --category images\`.`, EXIT.notFound);
  const meta = matches[0] as (typeof matches)[number];
  const cache = new ImageCache(ctx.env.cacheDir);
  await mkdir(cache.dir, { recursive: true, mode: 0o700 });
  const key = cache.key(ctx.api.server, ctx.api.loggedIn?.userId, meta.id);
  const cached = await cache.get(key);
  const res = await ctx.api.authorized(ctx.api.url(`/api/files/${encodeURIComponent(meta.id)}/content`), () => ({
    headers: (cached ? { 'if-none-match': cached.etag } : {}) as Record<string, string>,
  }));
  let entry = cached;
  const hit = res.status === 304 && cached !== undefined;
  if (hit) {
    res.discard();
    await cache.touch(key);
  } else if (res.status === 200) {
    await pipeline(res.stream, createWriteStream(cache.partFile(key), { mode: 0o600 }));
    entry = await cache.commit(key, res.headers.get('etag') ?? `"${meta.sha256}"`, meta.size, meta.name);
  } else {
    throw ctx.api.failure(res.status, await res.json().catch(() => ({})));
  }
  await cache.evict(ctx.env.cacheMaxBytes ?? DEFAULT_CACHE_BYTES, key);
  const file = (entry as { file: string }).file;
  const opened = o.open ? openWithViewer(file) : false;
  if (o.open && !opened) process.stderr.write('No image viewer found (xdg-open); the file is in the cache.\n');
  ctx.result({ file: { id: meta.id, name: meta.name, size: meta.size, mime: meta.mime }, path: file, cached: hit, opened }, () =>
    `${printable(meta.name)} (${humanSize(meta.size)}, ${hit ? 'from the cache: not modified' : 'downloaded'}): ${file}`,
  );
}
