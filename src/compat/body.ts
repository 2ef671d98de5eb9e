import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';

/**
 * Seed clients send bodies with any Content-Type (or none), and seed 000 sends JSON bodies on GET
 * and HEAD. Inside a compat scope every body arrives as a Buffer and each adapter parses it.
 */
export function acceptRawBodies(app: FastifyInstance, limit: number) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));
}

/**
 * The request body as bytes. Fastify leaves GET and HEAD bodies unread (seed 000 sends JSON on
 * both), and scopes that stream uploads leave every body unread: those are read here, bounded.
 */
export async function rawBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  if (Buffer.isBuffer(request.body)) return request.body;
  if (request.raw.readableEnded) return Buffer.alloc(0);
  const declared = Number(request.headers['content-length'] ?? 0);
  const chunked = request.headers['transfer-encoding'] !== undefined;
  if (!chunked && (!Number.isFinite(declared) || declared <= 0)) return Buffer.alloc(0);
  if (declared > limit) throw new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; anything else is BAD_REQUEST / INVALID_JSON. */
export function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AppError('INVALID_JSON', 'Body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('VALIDATION_FAILED', 'Body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A string field of a parsed body, or undefined; wrong types are VALIDATION_FAILED. */
export function stringField(obj: Record<string, unknown>, name: string, maxLength = 4096): string | undefined {
  const v = obj[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AppError('VALIDATION_FAILED', `"${name}" must be a string`);
  if (v.length > maxLength) throw new AppError('VALIDATION_FAILED', `"${name}" is too long`);
  return v;
}

/**
 * An HTML form post. Clients that label a JSON body as a form (curl -d does) are not forms: the
 * body is sniffed for a leading "{".
 */
export function isFormBody(request: FastifyRequest): boolean {
  const ct = request.headers['content-type'] ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(ct)) return false;
  const body = Buffer.isBuffer(request.body) ? request.body.toString('utf8', 0, 64).trimStart() : '';
  return !body.startsWith('{');
}

export function formFields(body: Buffer): URLSearchParams {
  return new URLSearchParams(body.toString('utf8'));
}

/** A browser navigation (HTML wanted) rather than an API client. */
export function wantsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /\btext\/html\b/i.test(accept);
}
