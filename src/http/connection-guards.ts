import type { ServerOptions } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';
import { createBodyDeadlines } from './body-deadlines.js';
import { answerExpectation, createClientErrorHandler, createHandshakeErrorHandler } from './client-errors.js';
import { sendNativeError } from './errors.js';
import { createLinger } from './linger.js';

/** Deadlines (the linger's) are checked on one timer. */
const TICK_MS = 1000;

/**
 * What the main HTTP port does below the routes, in one place: lingering close (linger.ts) of
 * connections whose body is still arriving when they are answered (body-deadlines.ts), and
 * Plaza-shaped answers where Node or ws would answer on their own (client-errors.ts). Created
 * before Fastify (some parts are Fastify options), installed after.
 */
export function createConnectionGuards(_config: Readonly<Config>) {
  const linger = createLinger();
  const bodies = createBodyDeadlines(linger);

  /** Fastify's `http` option. */
  const httpOptions: ServerOptions = {
    // A missing Host is answered in Plaza's shape below (Node would send an empty 400).
    requireHostHeader: false,
  };

  function install(app: FastifyInstance): void {
    const server = app.server;
    server.on('connection', (socket: Socket) => {
      // Node ends a `Connection: close` answer with destroySoon(); with a body still arriving
      // that close would be a reset, so such a connection lingers instead.
      socket.destroySoon = () => {
        if (!bodies.closeUnread(socket)) Socket.prototype.destroySoon.call(socket);
      };
    });
    server.on('checkExpectation', answerExpectation);
    app.websocketServer.on('wsClientError', createHandshakeErrorHandler(linger));

    let closing = false;
    app.addHook('onRequest', (request, reply, done) => {
      const raw = request.raw;
      if (closing) {
        reply.header('connection', 'close');
        sendNativeError(request, reply, new AppError('SHUTTING_DOWN', 'The server is shutting down; retry shortly', { retryAfter: 5 }));
        return;
      }
      if (raw.headers.host === undefined && raw.httpVersion === '1.1') {
        sendNativeError(request, reply, new AppError('BAD_REQUEST', 'An HTTP/1.1 request must carry a Host header'));
        return;
      }
      bodies.track(raw, reply.raw);
      done();
    });

    const timer = setInterval(() => {
      bodies.sweep();
      linger.sweep(Date.now());
    }, TICK_MS);
    timer.unref();
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
    app.addHook('onClose', (_app, done) => {
      clearInterval(timer);
      linger.destroyAll();
      done();
    });
  }

  return { httpOptions, onClientError: createClientErrorHandler(linger), install };
}
