import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { accessKey } from '../client/access-key.js';
import type { ClientContext } from '../client/context.js';
import { ClientError } from '../client/errors.js';
import { listFiles } from '../client/files-api.js';
import { type HttpReply, httpSend } from '../client/http.js';
import { unreachable } from '../client/network-errors.js';
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

/** Seed 000's image request: `GET /images {"url": name}` with the access key (and the validator when cached). */
async function fetchImage(ctx: ClientContext, name: string, key: string, etag: string | undefined): Promise<HttpReply> {
  try {
    return await httpSend(ctx.api.url('/images'), {
      method: 'GET',
      headers: { 'content-type': 'application/json', 'x-plaza-key': key, ...(etag ? { 'if-none-match': etag } : {}) },
      body: JSON.stringify({ url: name }),
    });
  } catch (err) {
    throw unreachable(ctx.api.server, err);
  }
}

/**
 * `plaza images get <name>`: an image of yours (by name or id) through seed 000's access-key flow
 * (SPEC §5.1, §7): the key the profile holds, or a new one (elevation), presented on `GET /images`;
 * kept in the local web cache and revalidated with If-None-Match, so a second view is a 304 and
 * costs no body. A key the server no longer takes is replaced once.
 */
export async function imagesGetCommand(ctx: ClientContext, ref: string, o: { open?: boolean }) {
  const { files } = await listFiles(ctx.api, { category: 'images' });
  const matches = files.filter((f) => f.id === ref || f.name === ref);
  if (matches.length === 0) throw new ClientError('NOT_FOUND', `No image named "${ref}". See \`plaza files --category images\`.`, EXIT.notFound);
  const meta = matches[0] as (typeof matches)[number];
  // Seed 000's /images names an image by its name only: one shared by several would be a guess.
  const sameName = files.filter((f) => f.name === meta.name);
  if (sameName.length > 1) {
    throw new ClientError('AMBIGUOUS', `${sameName.length} images are named "${printable(meta.name)}" (${sameName.map((f) => f.id).join(', ')}); /images finds images by name. Rename one first.`, EXIT.conflict);
  }
  const cache = new ImageCache(ctx.env.cacheDir);
  await mkdir(cache.dir, { recursive: true, mode: 0o700 });
  const key = cache.key(ctx.api.server, ctx.api.loggedIn?.userId, meta.id);
  const cached = await cache.get(key);
  let res = await fetchImage(ctx, meta.name, (await accessKey(ctx.api)).key, cached?.etag);
  if (res.status === 401) {
    // Expired early or revoked: forget it, ask for a new one, once.
    res.discard();
    await ctx.api.saveAccessKey(undefined);
    res = await fetchImage(ctx, meta.name, (await accessKey(ctx.api, { fresh: true })).key, cached?.etag);
  }
  let entry = cached;
  const hit = res.status === 304 && cached !== undefined;
  if (hit) {
    res.discard();
    await cache.touch(key);
  } else if (res.status === 200) {
    await pipeline(res.stream, createWriteStream(cache.partFile(key), { mode: 0o600 }));
    entry = await cache.commit(key, res.headers.get('etag') ?? `"${meta.sha256}"`, meta.size, meta.name);
  } else {
    const text = (await res.text()).trim();
    if (res.status === 404) throw new ClientError('NOT_FOUND', `The server has no image "${printable(meta.name)}" for you (${text || 'HTTP 404'}).`, EXIT.notFound);
    if (res.status === 401) throw new ClientError('ACCESS_KEY_REFUSED', 'The server refused the access key. Run `plaza privilege`, then try again.', EXIT.auth);
    throw new ClientError(`HTTP_${res.status}`, `The server answered HTTP ${res.status} for the image${text ? ` (${text.slice(0, 200)})` : ''}.`, EXIT.failure);
  }
  await cache.evict(ctx.env.cacheMaxBytes ?? DEFAULT_CACHE_BYTES, key);
  const file = (entry as { file: string }).file;
  const opened = o.open ? openWithViewer(file) : false;
  if (o.open && !opened) process.stderr.write('No image viewer found (xdg-open); the file is in the cache.\n');
  ctx.result({ file: { id: meta.id, name: meta.name, size: meta.size, mime: meta.mime }, path: file, cached: hit, opened }, () =>
    `${printable(meta.name)} (${humanSize(meta.size)}, ${hit ? 'from the cache: not modified' : 'downloaded'}): ${file}`,
  );
}
