import { fileTypeFromBuffer } from 'file-type';

export type Category = 'images' | 'documents' | 'files';

/** Seed 004's extension lists (SPEC §3). */
const IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'gif', 'bmp', 'webp', 'tiff', 'svg']);
const DOCUMENT_EXT = new Set(['txt', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'hwp', 'hwpx', 'pdf', 'rtf', 'odt', 'ods', 'odp']);

/** What the content must really be for each extension to keep its category. */
const IMAGE_MIME: Record<string, string[]> = {
  jpg: ['image/jpeg'],
  jpeg: ['image/jpeg'],
  png: ['image/png'],
  gif: ['image/gif'],
  bmp: ['image/bmp'],
  webp: ['image/webp'],
  tiff: ['image/tiff'],
};
const ZIP_DOCS = new Set(['docx', 'xlsx', 'pptx', 'hwpx', 'odt', 'ods', 'odp']);
const CFB_DOCS = new Set(['doc', 'xls', 'ppt', 'hwp']);

/** Raster formats a browser may render inline (SVG is an image category but never inline). */
export const RASTER_MIME = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/bmp', 'image/webp']);

export function extensionOf(name: string): string {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(name);
  return m?.[1]?.toLowerCase() ?? '';
}

function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  return !/[\u0000-\u0008\u000e-\u001a]/.test(head.toString('latin1'));
}

function looksLikeSvg(head: Buffer): boolean {
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  return looksLikeText(head) && /^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(text);
}

export interface Classification {
  category: Category;
  /** The type sniffed from the content (magic bytes), or a text/SVG guess, or octet-stream. */
  mime: string;
}

/**
 * Category by extension, confirmed by the content's real type: a `.png` that is HTML is an
 * ordinary file, never an image (SPEC §3).
 */
export async function classify(originalName: string, head: Buffer): Promise<Classification> {
  const ext = extensionOf(originalName);
  const detected = await fileTypeFromBuffer(head).catch(() => undefined);
  const sniffed = detected?.mime ?? (looksLikeSvg(head) ? 'image/svg+xml' : looksLikeText(head) ? 'text/plain' : 'application/octet-stream');

  if (IMAGE_EXT.has(ext)) {
    const ok = ext === 'svg' ? sniffed === 'image/svg+xml' : (IMAGE_MIME[ext] ?? []).includes(sniffed);
    return { category: ok ? 'images' : 'files', mime: sniffed };
  }
  if (DOCUMENT_EXT.has(ext)) {
    let ok = false;
    if (ext === 'pdf') ok = sniffed === 'application/pdf';
    else if (ext === 'rtf') ok = sniffed === 'application/rtf' || head.toString('latin1', 0, 5) === '{\\rtf';
    else if (ext === 'txt') ok = sniffed === 'text/plain';
    else if (ZIP_DOCS.has(ext)) ok = detected !== undefined && (detected.ext === 'zip' || detected.mime.startsWith('application/vnd.') || detected.ext === ext);
    else if (CFB_DOCS.has(ext)) ok = detected?.ext === 'cfb' || detected?.ext === ext;
    return { category: ok ? 'documents' : 'files', mime: sniffed };
  }
  return { category: 'files', mime: sniffed };
}
