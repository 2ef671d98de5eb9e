import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, isInvalidDatabaseInput, isStorageFull, storageUnavailable } from '../db/errors.js';
import { BASELINE_SECURITY_HEADERS } from './security-headers.js';
import { AppError, ERROR_STATUS, type ErrorCode } from '../shared/errors.js';

export interface MappedError {
  status: number;
  code: ErrorCode;
  message: string;
  retryAfter?: number | undefined;
}

/**
 * Turns anything thrown during a request into a client-safe answer. Unknown errors become a
 * 500 with a generic message (logged with the request id); no detail of them reaches the client.
 */
export function mapError(err: unknown): MappedError {
  if (err instanceof AppError) {
    return { status: err.status, code: err.code, message: err.message, retryAfter: err.retryAfter };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (fe?.validation) {
    return { status: 400, code: 'VALIDATION_FAILED', message: describeValidation(fe as FastifyError) };
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported Content-Type; send application/json' }
        : { status: 400, code: 'BAD_REQUEST', message: 'Content-Length does not match the body' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'Body is empty but Content-Type is application/json' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'Body is not valid JSON' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 414, code: 'URI_TOO_LONG', message: 'A segment of the URL is too long' };
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'BAD_REQUEST', message: 'The URL is not valid (bad percent-encoding)' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time' };
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(err)
        ? { status: 414, code: 'URI_TOO_LONG', message: 'The URL is too long' }
        : { status: 431, code: 'HEADERS_TOO_LARGE', message: 'The request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Chunk extensions are too large' };
  }
  if (typeof fe?.code === 'string' && fe.code.startsWith('HPE_')) {
    return { status: 400, code: 'BAD_REQUEST', message: HTTP_PARSE_ERRORS[fe.code] ?? 'The request is not valid HTTP' };
  }
  if (err instanceof SyntaxError && (fe as { statusCode?: number }).statusCode === 400) {
    return { status: 400, code: 'INVALID_JSON', message: 'Body is not valid JSON' };
  }
  const storage = mapStorageError(err);
  if (storage) return storage;
  if (isInvalidDatabaseInput(err)) {
    return { status: 400, code: 'BAD_REQUEST', message: 'A value in the request is not acceptable' };
  }
  if (isDatabaseUnavailable(err)) {
    return {
      status: 503,
      code: 'DATABASE_UNAVAILABLE',
      message: 'The database is unavailable; retry shortly',
      retryAfter: 5,
    };
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status) ?? 'BAD_REQUEST';
    return { status, code, message: typeof fe.message === 'string' ? fe.message.slice(0, 200) : 'Bad request' };
  }
  return { status: 500, code: 'INTERNAL', message: 'Internal server error' };
}

/** A full disk is 507; a read-only disk or no file descriptors left is 503 with Retry-After. */
function mapStorageError(err: unknown): MappedError | undefined {
  if (isStorageFull(err)) {
    return { status: 507, code: 'STORAGE_FULL', message: 'The server is out of storage space; try again later' };
  }
  const why = storageUnavailable(err);
  if (!why) return undefined;
  const message =
    why === 'read-only' ? 'The server cannot write to its storage right now; retry later' : 'The server cannot open more files right now; retry shortly';
  return { status: 503, code: 'STORAGE_UNAVAILABLE', message, retryAfter: 5 };
}

/** Node's HTTP parser errors (HPE_*, from llhttp) said in words; the rest are "not valid HTTP". */
const HTTP_PARSE_ERRORS: Record<string, string> = {
  HPE_INVALID_CONTENT_LENGTH: 'Content-Length is not valid',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'Content-Length and Transfer-Encoding must not both be sent',
  HPE_INVALID_TRANSFER_ENCODING: 'Transfer-Encoding is not valid',
  HPE_INVALID_CHUNK_SIZE: 'The chunked body is malformed',
  HPE_INVALID_METHOD: 'The request method is not valid',
  HPE_INVALID_URL: 'The request URL is not valid',
  HPE_INVALID_VERSION: 'The HTTP version is not valid',
  HPE_INVALID_HEADER_TOKEN: 'A request header is not valid',
};

/**
 * Node counts the request line into its header-size limit: when the bytes it failed on start with
 * a request line longer than half of that limit, the URL is what is too long (414), not the
 * headers (431).
 */
function requestLineTooLong(err: unknown): boolean {
  const packet = (err as { rawPacket?: unknown }).rawPacket;
  if (!Buffer.isBuffer(packet) || !/^[A-Z]{3,10} [^\s]/.test(packet.toString('latin1', 0, 16))) return false;
  const end = packet.indexOf('\n');
  return end === -1 || end > 8 * 1024;
}

function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return 'Request is not valid';
  const where = err.validationContext ?? 'body';
  const field = first.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  const extra = (first.params as { additionalProperty?: string; missingProperty?: string }) ?? {};
  if (first.keyword === 'additionalProperties' && extra.additionalProperty) {
    return `${where} has an unknown field "${extra.additionalProperty}"`;
  }
  if (first.keyword === 'required' && extra.missingProperty) {
    return `${where} is missing the field "${extra.missingProperty}"`;
  }
  return `${where}${field ? `.${field}` : ''} ${first.message ?? 'is not valid'}`;
}

export function logIfServerError(request: FastifyRequest, err: unknown, mapped: MappedError) {
  if (mapped.status >= 500) request.log.error({ err }, 'request failed');
}

/** Native API error format: {"error":{"code","message"}}. */
export function sendNativeError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const mapped = mapError(err);
  logIfServerError(request, err, mapped);
  if (mapped.retryAfter !== undefined) reply.header('retry-after', String(mapped.retryAfter));
  // Router errors (a bad URL, an over-long segment) are answered before helmet's hook runs.
  for (const [name, value] of Object.entries(BASELINE_SECURITY_HEADERS)) {
    if (!reply.hasHeader(name) && !reply.raw.hasHeader(name)) reply.header(name, value);
  }
  return reply
    .code(mapped.status)
    .type('application/json; charset=utf-8')
    .send({ error: { code: mapped.code, message: mapped.message } });
}

export function installNativeErrors(app: FastifyInstance) {
  app.setErrorHandler((err, request, reply) => sendNativeError(request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendNativeError(
      request,
      reply,
      new AppError('NOT_FOUND', `No route for ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`),
    ),
  );
}
