import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../shared/errors.js';
import { randomToken } from '../shared/ids.js';
import { RASTER_MIME } from './categories.js';
import type { FileInfo, FilesService } from './files.service.js';
import type { Storage } from './storage.js';

export const THUMBNAIL_SIZES = [64, 128, 256, 512] as const;
/** Images claiming more pixels than this are refused before decoding (pixel-flood defence). */
export const MAX_INPUT_PIXELS = 50_000_000;

export type ThumbnailsService = ReturnType<typeof createThumbnailsService>;

/** WebP thumbnails of raster images, made on first request and kept under uploads/.thumbs/. */
export function createThumbnailsService({ storage, files }: { storage: Storage; files: FilesService }) {
  const dir = path.join(storage.root, '.thumbs');

  async function thumbnail(file: FileInfo, size: (typeof THUMBNAIL_SIZES)[number]): Promise<string> {
    if (file.category !== 'images' || !RASTER_MIME.has(file.mime)) {
      throw new AppError('UNSUPPORTED_IMAGE', 'Thumbnails exist only for raster images');
    }
    const target = path.join(dir, `${file.storedName}-${file.sha256.slice(0, 16)}-${size}.webp`);
    if (await stat(target).then(() => true, () => false)) return target;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { default: sharp } = await import('sharp');
    const { fh } = await files.open(file);
    const temp = `${target}.${randomToken(6)}.part`;
    try {
      const transform = sharp({ limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
        .rotate()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 });
      await pipeline(fh.createReadStream(), transform, createWriteStream(temp, { mode: 0o600 }));
      await rename(temp, target);
      return target;
    } catch (err) {
      await unlink(temp).catch(() => {});
      // A failed system call (the cache cannot be written: a full or read-only disk) is the
      // server's condition, mapped as such; anything else is the image's fault.
      if (err instanceof AppError || typeof (err as NodeJS.ErrnoException).syscall === 'string') throw err;
      const msg = String((err as Error).message);
      throw new AppError(
        'UNSUPPORTED_IMAGE',
        /pixel limit/i.test(msg) ? 'Image dimensions are too large to process' : 'The image could not be read',
      );
    } finally {
      await fh.close().catch(() => {});
    }
  }

  return { thumbnail };
}
