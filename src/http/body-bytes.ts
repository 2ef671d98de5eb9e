import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * Counts each request's body bytes as they cross the wire, for metrics: what the HTTP parser hands
 * the request stream (chunked bodies and tus PATCH streams without a Content-Length, decoded from
 * their framing) and what the response writes (streams, ranges, chunked replies), whether or not a
 * Content-Length was given, and also for a transfer cut short. Reported once the response's
 * connection is done with it, under the route pattern Fastify matched.
 */

interface Tally {
  in: number;
  out: number;
  route: string;
}

const tallies = new WeakMap<IncomingMessage, Tally>();

function sizeOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/** Wraps the request's `push` (fed by the parser) and the response's `write`/`end` to count body bytes. */
function instrument(req: IncomingMessage, res: ServerResponse, tally: Tally) {
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    tally.in += sizeOf(chunk, encoding);
    return push(chunk, encoding);
  };
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    tally.out += sizeOf(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') tally.out += sizeOf(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
}

export function countBodyBytes(app: FastifyInstance, report: (route: string, bytesIn: number, bytesOut: number) => void): void {
  // First of the server's 'request' listeners: before the parser hands over any of the body.
  app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const tally: Tally = { in: 0, out: 0, route: 'unmatched' };
    tallies.set(req, tally);
    instrument(req, res, tally);
    res.once('close', () => {
      // Node writes no body for these, whatever was handed to write().
      const bodiless = req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
      report(tally.route, tally.in, bodiless ? 0 : tally.out);
    });
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const tally = tallies.get(request.raw);
    if (tally) tally.route = request.routeOptions.url ?? 'unmatched';
    done();
  });
}
