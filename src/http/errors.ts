import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, isInvalidDatabaseInput, isStorageFull, storageUnavailable } from '../db/errors.js';
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
