import { MAX_BODY_CHARS } from '../../chat/messages.service.js';
import { HEADER_EXIT, HEADER_FILE, HEADER_MESSAGE } from './words.js';

/**
 * Seed 003's bytes on the wire: its client has no framing at all, so headers are recognised by
 * their exact bytes wherever a read boundary falls (reader.ts decides when a frame ends), and what
 * goes out is cut to the client's read sizes between UTF-8 characters.
 */

/** The client's text read (`recv(1024)`): no payload may be longer. */
export const MAX_PAYLOAD_BYTES = 1024;
/** The client's file read size (`recv(65536)`). */
export const FILE_CHUNK_BYTES = 65536;
export const MAX_LOGIN_BYTES = 1024;
export const MAX_INFO_BYTES = 1024;
/** A text longer than this (bytes) is cut here; the chat keeps at most MAX_BODY_CHARS characters anyway. */
export const MAX_TEXT_BYTES = 4 * MAX_BODY_CHARS;

const HEADERS = [
  { bytes: Buffer.from(HEADER_MESSAGE), kind: 'message' },
  { bytes: Buffer.from(HEADER_FILE), kind: 'file' },
  { bytes: Buffer.from(HEADER_EXIT), kind: 'exit' },
] as const;
export type HeaderKind = (typeof HEADERS)[number]['kind'];
/** A newline followed by a header: where a text ends when the next frame follows in the same read. */
const NEXT_FRAME = HEADERS.map((h) => Buffer.concat([Buffer.from('\n'), h.bytes]));

/** How many bytes at the end of `buf` are an unfinished UTF-8 sequence (0 when it ends cleanly). */
export function incompleteUtf8Tail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Splits UTF-8 bytes into pieces of at most `max` bytes, never inside a character. */
export function splitUtf8(buf: Buffer, max = MAX_PAYLOAD_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (buf.length - start > max) {
    let end = start + max;
    // Back up to the lead byte of the character that would be cut.
    while (end > start && ((buf[end] as number) & 0xc0) === 0x80) end--;
    if (end === start) end = start + max; // not UTF-8 at all: cut anywhere
    out.push(buf.subarray(start, end));
    start = end;
  }
  out.push(buf.subarray(start));
  return out;
}

export function matchHeader(buf: Buffer): { kind: HeaderKind; length: number } | 'partial' | undefined {
  for (const h of HEADERS) {
    if (buf.length >= h.bytes.length && buf.subarray(0, h.bytes.length).equals(h.bytes)) {
      return { kind: h.kind, length: h.bytes.length };
    }
  }
  for (const h of HEADERS) if (buf.length < h.bytes.length && h.bytes.subarray(0, buf.length).equals(buf)) return 'partial';
  return undefined;
}

/** Where a text ends because the next frame's header follows its newline (index after the newline), or -1. */
export function textEnd(buf: Buffer): number {
  let best = -1;
  for (const marker of NEXT_FRAME) {
    const i = buf.indexOf(marker);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best < 0 ? -1 : best + 1;
}

/** The first header inside a login read (a client that logs in and talks in one write). */
export function headerInside(buf: Buffer): number {
  let best = -1;
  for (const h of HEADERS) {
    const i = buf.indexOf(h.bytes);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** The stored message body for what a client sent: tkinter's trailing newline is not part of it. */
export function bodyOf(text: string): string {
  let body = text.replace(/\r?\n$/, '');
  if (body.length > MAX_BODY_CHARS) {
    body = body.slice(0, MAX_BODY_CHARS);
    // Never keep half of a surrogate pair.
    if (/[\uD800-\uDBFF]$/.test(body)) body = body.slice(0, -1);
  }
  return body;
}

/**
 * `<size>,<basename>` → the two parts, or why it is refused. Names are metadata, never paths: one
 * with a separator, `..`, a NUL or other control character is refused rather than shortened.
 */
export function parseFileInfo(
  info: string,
): { size: number; name: string } | { error: 'size' } | { error: 'name'; size: number } {
  const comma = info.indexOf(',');
  if (comma < 0) return { error: 'size' };
  const sizeText = info.slice(0, comma).trim();
  if (!/^\d{1,15}$/.test(sizeText)) return { error: 'size' };
  const size = Number(sizeText);
  const name = info.slice(comma + 1);
  if (
    name.trim() === '' ||
    name.trim() === '.' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('..') ||
    /[\u0000-\u001f\u007f]/.test(name) ||
    /^[A-Za-z]:/.test(name) ||
    Buffer.byteLength(name) > 255
  ) {
    return { error: 'name', size };
  }
  return { size, name };
}
