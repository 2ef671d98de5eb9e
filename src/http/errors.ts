import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BASELINE_SECURITY_HEADERS } from './security-headers.js';
import { describeFailure, type Failure, failure, logFailure } from '../shared/error-map.js';
import { AppError, ERROR_STATUS, type ErrorCode } from '../shared/errors.js';

/** An HTTP transport's failure: shared/error-map.ts's, with the framework's own errors recognised first. */
export type MappedError = Failure;

/**
 * Turns anything thrown during a request into a client-safe answer: Fastify's and Node's HTTP
 * errors here, everything else by the one rule (shared/error-map.ts). Unknown errors become a 500
 * with a generic message (logged with the request id); no detail of them reaches the client.
 */
export function mapError(err: unknown): MappedError {
  if (err instanceof AppError) return describeFailure(err);
  return frameworkFailure(err) ?? describeFailure(err);
}

/** Fastify's (FST_*) and Node's HTTP parser's (HPE_*) errors, and a 4xx a plugin raised with statusCode. */
function frameworkFailure(err: unknown): MappedError | undefined {
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (fe?.validation) {
    return failure('VALIDATION_FAILED', describeValidation(fe as FastifyError));
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? failure('UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type; send application/json')
        : failure('BAD_REQUEST', 'Content-Length does not match the body');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return failure('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return failure('INVALID_JSON', 'Body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return failure('INVALID_JSON', 'Body is not valid JSON');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return failure('URI_TOO_LONG', 'A segment of the URL is too long');
    case 'FST_ERR_BAD_URL':
      return failure('BAD_REQUEST', 'The URL is not valid (bad percent-encoding)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return failure('REQUEST_TIMEOUT', 'The request did not arrive in time');
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(err)
        ? failure('URI_TOO_LONG', 'The URL is too long')
        : failure('HEADERS_TOO_LARGE', 'The request headers are too large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return failure('PAYLOAD_TOO_LARGE', 'Chunk extensions are too large');
  }
  if (typeof fe?.code === 'string' && fe.code.startsWith('HPE_')) {
    return failure('BAD_REQUEST', HTTP_PARSE_ERRORS[fe.code] ?? 'The request is not valid HTTP');
  }
  if (err instanceof SyntaxError && (fe as { statusCode?: number }).statusCode === 400) {
    return failure('INVALID_JSON', 'Body is not valid JSON');
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status) ?? 'BAD_REQUEST';
    return { ...failure(code, typeof fe.message === 'string' ? fe.message.slice(0, 200) : 'Bad request'), status };
  }
  return undefined;
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
  logFailure(request.log, err, mapped, 'request failed');
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
