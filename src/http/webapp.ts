import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The browser app (web/, built by Vite into dist/web) served from memory. Hashed files under
 * /assets/ never change, so browsers keep them for a year; index.html names the current ones, so
 * it is never cached. Each asset is compressed once, on its first request.
 */

/** Where the built app is: beside the bundle (dist/plaza.mjs), or dist/web when running src/. */
export function defaultWebDir(): string {
  const url = import.meta.url.endsWith('.ts') ? new URL('../../dist/web/', import.meta.url) : new URL('./web/', import.meta.url);
  return fileURLToPath(url);
}

/** The app's policy: its own scripts and styles only (no inline script), same-origin fetches and sockets. */
export const WEBAPP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  // PDF.js's worker is a module file of its own (a module worker needs a JavaScript type).
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.svg', '.map', '.json', '.html']);

interface Asset {
  body: Buffer;
  type: string;
  compressible: boolean;
  br?: Buffer;
  gzip?: Buffer;
}

export interface WebApp {
  /** Whether dist/web holds a build (the server still starts without one and says so). */
  readonly built: boolean;
  /**
   * The app's page; someone not signed in goes to the login page, coming back here after.
   * `noscript` (HTML) replaces the page's `<noscript>` text: what a browser without JavaScript sees.
   */
  sendIndex(request: FastifyRequest, reply: FastifyReply, noscript?: string): FastifyReply;
  sendAsset(request: FastifyRequest, reply: FastifyReply, name: string): FastifyReply;
}

/** Brotli, then gzip, as the client accepts them (q=0 refuses). */
function pickEncoding(accept: string | undefined): 'br' | 'gzip' | undefined {
  const offered = new Map<string, number>();
  for (const part of (accept ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    offered.set(name ?? '', q ? Number(q.slice(2)) || 0 : 1);
  }
  const ok = (n: string) => (offered.get(n) ?? offered.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}

function compressed(asset: Asset, encoding: 'br' | 'gzip'): Buffer {
  if (encoding === 'br') {
    asset.br ??= brotliCompressSync(asset.body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 10, [zlib.BROTLI_PARAM_SIZE_HINT]: asset.body.length },
    });
    return asset.br;
  }
  asset.gzip ??= gzipSync(asset.body, { level: 9 });
  return asset.gzip;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  reply.header('content-type', asset.type).header('vary', 'accept-encoding');
  const encoding = asset.compressible && asset.body.length > 512 ? pickEncoding(request.headers['accept-encoding']) : undefined;
  if (!encoding) return reply.send(asset.body);
  return reply.header('content-encoding', encoding).send(compressed(asset, encoding));
}

function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'assets');
  if (!existsSync(assetDir)) return assets;
  for (const name of readdirSync(assetDir)) {
    const ext = path.extname(name);
    assets.set(name, {
      body: readFileSync(path.join(assetDir, name)),
      type: TYPES[ext] ?? 'application/octet-stream',
      compressible: COMPRESSIBLE.has(ext),
    });
  }
  return assets;
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Plaza</title><h1>The web app is not built</h1><p>Run <code>npm run build</code> and restart Plaza.</p>`;

/** Loads dist/web (or `dir`) into memory once, at start. */
export function loadWebApp(dir = defaultWebDir()): WebApp {
  const indexPath = path.join(dir, 'index.html');
  const built = existsSync(indexPath);
  const index: Asset = {
    body: built ? readFileSync(indexPath) : Buffer.from(NOT_BUILT),
    type: 'text/html; charset=utf-8',
    compressible: true,
  };
  const assets = readAssets(dir);
  return {
    built,
    sendIndex(request, reply, noscript) {
      if (!request.principal) return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      reply
        .code(built ? 200 : 503)
        .header('cache-control', 'no-cache')
        .header('content-security-policy', WEBAPP_CSP);
      if (noscript === undefined || !built) return send(request, reply, index);
      // Made for this request (it holds the user's own content): never cached, compressed each time.
      reply.header('cache-control', 'no-store');
      const body = Buffer.from(index.body.toString('utf8').replace(/<noscript>[\s\S]*?<\/noscript>/, () => `<noscript>${noscript}</noscript>`));
      return send(request, reply, { body, type: index.type, compressible: true });
    },
    sendAsset(request, reply, name) {
      const asset = assets.get(name);
      if (!asset) {
        return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('Not found');
      }
      reply.header('cache-control', 'public, max-age=31536000, immutable');
      return send(request, reply, asset);
    },
  };
}

/** The app's own paths. `/files` is shared with seed 002 (its JSON list) and dispatched in compat/routes.ts. */
export const APP_PATHS = ['/chat', '/chat/:room', '/profile', '/admin', '/admin/*'];

export async function webAppRoutes(app: FastifyInstance, { webapp }: { webapp: WebApp }) {
  const hide = { schema: { hide: true } };
  app.get<{ Params: { name: string } }>('/assets/:name', hide, (request, reply) =>
    webapp.sendAsset(request, reply, request.params.name),
  );
  for (const p of APP_PATHS) app.get(p, hide, (request, reply) => webapp.sendIndex(request, reply));
}
