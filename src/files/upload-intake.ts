import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../accounts/model.js';
import type { Core } from '../app.js';
import { AppError } from '../shared/errors.js';
import type { FileInfo } from './files.service.js';

// How upload bodies enter the files service, shared by every front door that takes uploads:
// the native /api/files routes, tus (its error close) and the seed adapters (000, 002, 004).

export const MULTIPART_LIMITS = { files: 20, fields: 20, fieldSize: 64 * 1024, parts: 60, headerPairs: 100 };

/** Registers multipart parsing in a scope; our own meter enforces the byte limits exactly. */
export async function acceptMultipart(app: FastifyInstance, maxUploadBytes: number) {
  await app.register(multipart, { limits: { ...MULTIPART_LIMITS, fileSize: maxUploadBytes + 1 } });
}

/** Every file part of a multipart request, stored one after another. */
export async function receiveMultipart(core: Core, request: FastifyRequest, owner: User, field?: string): Promise<FileInfo[]> {
  if (!request.isMultipart()) throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send multipart/form-data with a file field');
  const stored: FileInfo[] = [];
  let current: NodeJS.ReadableStream & { destroy(err?: Error): void } | undefined;
  // A client that vanishes mid-part does not always end the part's stream: end it ourselves, so
  // the upload fails and its temp file is removed.
  const onClose = () => {
    if (!request.raw.complete) current?.destroy(new AppError('UPLOAD_INCOMPLETE', 'The client went away mid-upload'));
  };
  request.raw.once('close', onClose);
  try {
    for await (const part of request.files()) {
      if (field !== undefined && part.fieldname !== field) {
        part.file.resume();
        continue;
      }
      current = part.file;
      if (request.raw.destroyed && !request.raw.complete) onClose();
      stored.push(await core.files.upload(owner, part.file, part.filename || 'file'));
      current = undefined;
    }
  } catch (err) {
    // All or nothing: files stored earlier in this request go too.
    await Promise.all(stored.map((f) => core.files.remove(owner, f.id).catch(() => {})));
    // The rest of the body is not worth reading: answer and close the connection.
    request.raw.unpipe();
    throw mapMultipartError(err);
  } finally {
    request.raw.off('close', onClose);
  }
  if (stored.length === 0) throw new AppError('VALIDATION_FAILED', 'No file in the request');
  return stored;
}

function mapMultipartError(err: unknown): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return new AppError('VALIDATION_FAILED', `Too many parts (at most ${MULTIPART_LIMITS.files} files)`);
  }
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new AppError('FILE_TOO_LARGE', 'File is larger than the upload limit');
  const msg = String((err as Error).message ?? '');
  if (
    /unexpected end|Malformed|boundary|aborted|premature close|terminated early/i.test(msg) ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'ECONNRESET'
  ) {
    return new AppError('UPLOAD_INCOMPLETE', 'The multipart body ended early or is malformed');
  }
  return err;
}

/** A raw body upload (`File-Name` header, optional `File-Size`), as seed 002's client sends. */
export async function receiveRaw(core: Core, request: FastifyRequest, owner: User): Promise<FileInfo> {
  if (request.body !== undefined && request.body !== null) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as application/octet-stream');
  }
  const rawName = request.headers['file-name'];
  if (typeof rawName !== 'string' || rawName === '') throw new AppError('VALIDATION_FAILED', 'The File-Name header is required');
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    name = rawName;
  }
  const sizeHeader = request.headers['file-size'];
  let declared: number | undefined;
  if (sizeHeader !== undefined) {
    if (typeof sizeHeader !== 'string' || !/^\d{1,16}$/.test(sizeHeader)) {
      throw new AppError('VALIDATION_FAILED', 'File-Size must be a whole number of bytes');
    }
    declared = Number(sizeHeader);
  }
  return core.files.upload(owner, request.raw, name, declared);
}

/** After a failed upload the rest of its body is not worth reading: close instead of draining it. */
export function closeAfterUploadError(request: FastifyRequest, reply: FastifyReply) {
  if (request.method === 'POST' || request.method === 'PATCH') reply.header('connection', 'close');
}
