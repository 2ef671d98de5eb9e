import type { ServerOptions } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';
import { createBodyDeadlines } from './body-deadlines.js';
import { hasConnectionLogin } from './auth.js';
import { answerExpectation, createClientErrorHandler, createHandshakeErrorHandler } from './client-errors.js';
import { effectiveMax, gateConnections } from './connections.js';
import { sendNativeError } from './errors.js';
import { createLinger } from './linger.js';

/**
 * Everything the main HTTP port does about slow or greedy clients, in one place: connection caps
 * (connections.ts), Node's headers timeout, body deadlines (body-deadlines.ts), lingering close
 * (linger.ts), and Plaza-shaped answers where Node or ws would answer on their own
 * (client-errors.ts). Created before Fastify (some parts are Fastify options), installed after.
 */
export function createConnectionGuards(config: Readonly<Config>) {
  const limits = config.connections;
  const linger = createLinger();
  const bodies = createBodyDeadlines(limits, linger);
  // Every deadline is checked on one timer, often enough to be late by at most a quarter of the
  // shortest one (and at most 1 s).
  const shortestMs = 1000 * Math.min(limits.headersTimeoutSeconds, limits.bodyTimeoutSeconds, limits.uploadRateWindowSeconds);
  const tickMs = Math.min(1000, Math.ceil(shortestMs / 4));

  /** Fastify's `http` option. */
  const httpOptions: ServerOptions = {
    // Node's own headers timeout (it runs only while a request's headers are arriving, never on
    // an idle keep-alive connection) checked on the same beat as the body deadlines; Node's
    // default checks every 30 s, which let slow headers live for 60-90 s.
    headersTimeout: limits.headersTimeoutSeconds * 1000,
    connectionsCheckingInterval: tickMs,
    // A missing Host is answered in Plaza's shape below (Node would send an empty 400).
    requireHostHeader: false,
  };

  function install(app: FastifyInstance): void {
    const server = app.server;
    const max = effectiveMax(limits.max, app.log);
    const caps = {
      max,
      maxPerIp: config.trustProxyEnabled ? undefined : limits.maxPerIp,
      seedKeepAliveMs: limits.seedKeepAliveSeconds * 1000,
    };
    gateConnections(server, caps, {
      linger,
      log: app.log,
      isSeed: hasConnectionLogin,
      accepted: (socket) => {
        // Node ends a `Connection: close` answer with destroySoon(); with a body still arriving
        // that close would be a reset, so such a connection lingers instead.
        socket.destroySoon = () => {
          if (!bodies.closeUnread(socket)) Socket.prototype.destroySoon.call(socket);
        };
      },
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
    app.addHook('preValidation', (request, _reply, done) => {
      bodies.handedToHandler(request.raw);
      done();
    });

    const timer = setInterval(() => {
      const now = Date.now();
      bodies.sweep(now);
      linger.sweep(now);
    }, tickMs);
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
