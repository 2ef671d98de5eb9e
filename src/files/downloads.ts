import { Readable } from 'node:stream';
import contentDisposition from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';
import { RASTER_MIME } from './categories.js';
import type { SentBody } from './download-windows.js';
import type { FileInfo, FilesService } from './files.service.js';

/** Only these render in the browser; everything else (SVG, HTML, text…) downloads as an attachment. */
export function isInlineSafe(mime: string): boolean {
  return RASTER_MIME.has(mime) || mime.startsWith('audio/') || mime.startsWith('video/') || mime === 'application/pdf';
}

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Resolves a `Range` header against a file's size: one byte range, the whole file (no header,
 * a unit other than bytes, or several ranges, which would need multipart/byteranges), or
 * unsatisfiable (a malformed or out-of-file byte range: 416).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'whole' | 'unsatisfiable' {
  const spec = header?.trim() ?? '';
  // RFC 9110 §14.2: a range unit the server does not know (or no unit at all) is ignored.
  if (!/^bytes=/i.test(spec)) return 'whole';
  const set = spec.slice('bytes='.length);
  if (set.includes(',')) return 'whole';
  const m = /^\s*(\d*)-(\d*)\s*$/.exec(set);
  if (!m) return 'unsatisfiable';
  const [, a = '', b = ''] = m;
  let start: number;
  let end: number;
  if (a === '') {
    // A suffix: the last n bytes.
    const n = Number(b);
    if (b === '' || n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    if (b !== '' && Number(b) < start) return 'unsatisfiable';
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** The part of the file a body carries: what a transport may count or refuse before it is sent. */
export interface BodyPart {
  start: number;
  end: number;
  size: number;
}

export interface SendOptions {
  /**
   * Called once a GET is known to carry `part` of the file, before any header is set; may refuse
   * by throwing. The function it may return is told, when the response closes, how much of the
   * body was read from the file and whether it all went out.
   */
  beforeServing?: (part: BodyPart) => Promise<((sent: SentBody) => void) | void>;
}

/** Validators: sent with every 200/206 and with 304. */
function validatorHeaders(reply: FastifyReply, file: FileInfo, etag: string) {
  reply.header('etag', etag);
  reply.header('accept-ranges', 'bytes');
  reply.header('cache-control', 'private, no-cache');
  reply.header('last-modified', new Date(file.updatedAt).toUTCString());
}

/**
 * `Content-Disposition` carries the original name (RFC 5987), and anything not inline-safe is an
 * attachment with nosniff and a sandboxing CSP, so an uploaded page can never run in Plaza's origin.
 */
function contentHeaders(reply: FastifyReply, file: FileInfo) {
  const inline = isInlineSafe(file.mime);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('content-disposition', contentDisposition(file.name, { type: inline ? 'inline' : 'attachment' }));
  reply.header('content-security-policy', "default-src 'none'; sandbox");
  reply.type(inline ? file.mime : 'application/octet-stream');
}

/**
 * The one download path of every route that serves a stored file (native, share links, seeds 002
 * and 004): ETag/304, Range/206/416 and safe headers. Everything that can fail (the file missing
 * or not a plain file, an unsatisfiable range, a refusal by `beforeServing`) fails before any
 * header of the file is set, so each transport's error answer goes out clean.
 */
export async function sendFile(
  files: FilesService,
  request: FastifyRequest,
  reply: FastifyReply,
  file: FileInfo,
  options: SendOptions = {},
) {
  const { fh, size } = await files.open(file);
  try {
    const etag = `"${file.sha256}"`;
    // RFC 9110 §13.2.2: If-None-Match is evaluated before Range.
    const inm = request.headers['if-none-match'];
    if (inm !== undefined && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
      await fh.close();
      validatorHeaders(reply, file, etag);
      return reply.code(304).send();
    }
    let range = parseRange(request.headers.range, size);
    const ifRange = request.headers['if-range'];
    if (range !== 'whole' && ifRange !== undefined && ifRange !== etag) range = 'whole';
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${size}`);
      throw new AppError('RANGE_NOT_SATISFIABLE', `Range not satisfiable for a ${size}-byte file`);
    }
    const { start, end } = range === 'whole' ? { start: 0, end: size - 1 } : range;
    const withBody = request.method !== 'HEAD';
    const settle = withBody && options.beforeServing ? await options.beforeServing({ start, end, size }) : undefined;
    validatorHeaders(reply, file, etag);
    contentHeaders(reply, file);
    if (range !== 'whole') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    reply.header('content-length', String(size === 0 ? 0 : end - start + 1));
    if (!withBody || size === 0) {
      await fh.close();
      settle?.({ bytes: 0, complete: true });
      // Fastify's automatic HEAD route sets Content-Length: 0 for an empty payload but leaves a
      // stream's alone: an empty stream keeps the length of the body a GET would carry.
      return reply.send(withBody ? undefined : Readable.from([]));
    }
    const body = fh.createReadStream({ start, end, highWaterMark: 256 * 1024 });
    if (settle) reply.raw.once('close', () => settle({ bytes: body.bytesRead, complete: reply.raw.writableFinished }));
    return reply.send(body);
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}
