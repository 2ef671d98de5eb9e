import contentDisposition from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';
import { RASTER_MIME } from './categories.js';
import type { FileInfo, FilesService } from './files.service.js';

/** Only these render in the browser; everything else (SVG, HTML, text…) downloads as an attachment. */
export function isInlineSafe(mime: string): boolean {
  return RASTER_MIME.has(mime) || mime.startsWith('audio/') || mime.startsWith('video/') || mime === 'application/pdf';
}

/** Parses a single `bytes=` range; undefined = serve everything, null = unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.trim().startsWith('bytes=') && header.includes(',') ? undefined : null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return null;
  return { start, end };
}

/**
 * Sends a stored file with ETag/304, Range/206 and safe headers: `Content-Disposition` carries the
 * original name (RFC 5987), and anything not inline-safe is an attachment with nosniff and a
 * sandboxing CSP, so an uploaded page can never run in Plaza's origin.
 */
export interface SendOptions {
  /** Called once the response will carry byte 0 of the file (a full download); may refuse by throwing. */
  beforeServingStart?: () => Promise<void>;
}

export async function sendFile(
  files: FilesService,
  request: FastifyRequest,
  reply: FastifyReply,
  file: FileInfo,
  options: SendOptions = {},
) {
  const etag = `"${file.sha256}"`;
  const inline = isInlineSafe(file.mime);
  reply.header('etag', etag);
  reply.header('accept-ranges', 'bytes');
  reply.header('cache-control', 'private, no-cache');
  reply.header('last-modified', new Date(file.updatedAt).toUTCString());
  reply.header('x-content-type-options', 'nosniff');
  reply.header('content-disposition', contentDisposition(file.name, { type: inline ? 'inline' : 'attachment' }));
  reply.header('content-security-policy', "default-src 'none'; sandbox");
  reply.type(inline ? file.mime : 'application/octet-stream');

  const inm = request.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    return reply.code(304).send();
  }

  const { fh, size } = await files.open(file);
  let range = parseRange(request.headers.range, size);
  const ifRange = request.headers['if-range'];
  if (range && ifRange !== undefined && ifRange !== etag) range = undefined;
  if (range === null) {
    await fh.close();
    reply.header('content-range', `bytes */${size}`);
    throw new AppError('RANGE_NOT_SATISFIABLE', `Range not satisfiable for a ${size}-byte file`);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (start === 0 && request.method !== 'HEAD' && options.beforeServingStart) {
    try {
      await options.beforeServingStart();
    } catch (err) {
      await fh.close();
      throw err;
    }
  }
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
  reply.header('content-length', String(size === 0 ? 0 : end - start + 1));
  if (request.method === 'HEAD' || size === 0) {
    await fh.close();
    return reply.send();
  }
  return reply.send(fh.createReadStream({ start, end, highWaterMark: 256 * 1024 }));
}
