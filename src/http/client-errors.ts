import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../shared/errors.js';
import { logFailure } from '../shared/error-map.js';
import { mapError } from './errors.js';
import type { Linger } from './linger.js';
import { BASELINE_SECURITY_HEADERS } from './security-headers.js';

/**
 * Answers that Node's HTTP server and ws would otherwise write in their own words (an empty 400,
 * `text/html`, Fastify's `{"statusCode":…}`): written here in Plaza's error shape. They happen
 * below Fastify, where there is no request or reply, so the bytes go to the socket.
 */

/** Status, retry hint and native JSON body of an error. */
function errorAnswer(err: unknown) {
  const m = mapError(err);
  return { ...m, body: JSON.stringify({ error: { code: m.code, message: m.message } }) };
}

/** A Plaza error as one complete HTTP/1.1 answer that closes the connection. */
export function rawErrorResponse(err: unknown, headers: Record<string, string> = {}): string {
  const m = errorAnswer(err);
  const body = m.body;
  const lines = [
    `HTTP/1.1 ${m.status} ${STATUS_CODES[m.status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(m.retryAfter !== undefined ? [`Retry-After: ${m.retryAfter}`] : []),
    ...Object.entries(BASELINE_SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Fastify's `clientErrorHandler`: Node could not parse the request (HPE_* codes), or its headers
 * took longer than the headers timeout (ERR_HTTP_REQUEST_TIMEOUT).
 */
export function createClientErrorHandler(linger: Linger) {
  return function onClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket) {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    // Answered already: the parser keeps failing on what still arrives until the linger ends.
    if (linger.isLingering(socket)) return;
    this.log.debug({ err }, 'client error');
    // By the one rule: what Node could not parse is the client's; anything else is logged by its kind.
    logFailure(this.log, err, mapError(err), 'client error');
    // An answer already under way cannot be replaced, only cut (Node's own check, socketOnError).
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    // A connection that never sent a byte (a browser's spare preconnect) goes without a word.
    const silent = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.bytesRead === 0;
    if (!socket.writable || current?.headersSent || silent) {
      socket.destroy();
      return;
    }
    linger.linger(socket, rawErrorResponse(err));
  };
}

/** Node's 'checkExpectation': an `Expect` other than 100-continue (Node would send an empty 417). */
export function answerExpectation(_req: IncomingMessage, res: ServerResponse): void {
  const m = errorAnswer(new AppError('EXPECTATION_FAILED', 'Only "Expect: 100-continue" is supported'));
  res.writeHead(m.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(m.body) });
  res.end(m.body);
}

/** ws's 'wsClientError': a WebSocket handshake ws refuses (ws would answer in text/html). */
export function createHandshakeErrorHandler(linger: Linger) {
  return (err: Error, socket: Duplex) => {
    const code = err.message === 'Invalid HTTP method' ? 'METHOD_NOT_ALLOWED' : 'BAD_REQUEST';
    const headers: Record<string, string> = /Sec-WebSocket-Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {};
    linger.linger(socket as Socket, rawErrorResponse(new AppError(code, err.message), headers));
  };
}
