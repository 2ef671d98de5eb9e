import { STATUS_CODES } from 'node:http';
import net from 'node:net';
import type { RequestContext } from '../accounts/model.js';
import type { Core } from '../app.js';
import {
  createNetclassSemantics,
  describeFailure,
  parseUserLine,
  POST_EXTRAS,
  PUT_EXTRAS,
  type SeedAnswer,
} from './netclass-http.js';
import { closeDoor, drainOrClose, listenDoor } from './tcp-door.js';

/**
 * Seed 001's raw TCP front door (opt-in, own port). Its client does not speak valid HTTP: GET/HEAD
 * end right after `Content-Length:0` (no blank line, not even a line break), POST/PUT announce 4
 * bytes more than they send, and the request line may have no path (`POST HTTP/1.1`). No HTTP
 * parser can frame that, so here a request is whatever arrives before a short quiet gap (the client
 * sends each request in one write); the method is the first token and the credentials are the
 * `user:` line. Login state belongs to the connection. Semantics are shared with `/` over HTTP.
 */

export interface NetclassDoorOptions {
  host: string;
  port: number;
  log?: (obj: object, msg: string) => void;
  /** Quiet time that ends a request; reads closer together than this are joined. */
  idleGapMs?: number;
  /** Largest buffered request; beyond it the client gets 413 and the connection is closed. */
  maxRequestBytes?: number;
  /** Connections with no traffic for this long are closed. */
  idleTimeoutMs?: number;
  maxConnections?: number;
}

export interface NetclassDoor {
  port: number;
  close(): Promise<void>;
}

const METHODS = 'GET, HEAD, POST, PUT';
const TEXT = 'text/plain; charset=utf-8';
/** Time a closing connection gets to read its last reply before it is cut. */
const LINGER_MS = 5000;

/**
 * Where a new request starts inside one burst: a request line at a line start, or glued right after
 * the seed's GET/HEAD, which ends with `Content-Length:0` and no line break.
 */
// Bounded repetitions only: an unbounded run of digits inside the look-behind made a 64 KiB burst
// take seconds to split (every position rescanned it), stalling the whole server.
const REQUEST_START = /(?<=\n|[Cc]ontent-[Ll]ength:[ \t]{0,16}\d{1,19})(?=[A-Z]{3,10} (?:\S+ )?HTTP\/\d)/;
/** Requests answered from one burst; the seed client sends one per write. */
const MAX_REQUESTS_PER_BURST = 100;

export function splitRequests(burst: string): string[] {
  // Blank lines before a request line are ignored, as RFC 9112 §2.2 allows.
  return burst
    .split(REQUEST_START)
    .map((r) => r.replace(/^[\r\n]+/, ''))
    .filter((r) => r.trim() !== '');
}

interface Reply {
  status: number;
  body?: string;
  type?: string;
  headers?: [string, string][];
  close?: boolean;
  /** HEAD: headers only. */
  noBody?: boolean;
}

export function renderReply(r: Reply): Buffer {
  const body = Buffer.from(r.noBody ? '' : (r.body ?? ''), 'utf8');
  const head = [
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Unknown'}`,
    `Content-Type: ${r.type ?? TEXT}`,
    `Content-Length: ${body.length}`,
    `Date: ${new Date().toUTCString()}`,
    ...(r.headers ?? []).map(([k, v]) => `${k}: ${v}`),
    `Connection: ${r.close ? 'close' : 'keep-alive'}`,
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

function fromAnswer(a: SeedAnswer): Reply {
  return {
    status: a.status,
    body: a.text,
    ...(a.retryAfter !== undefined ? { headers: [['Retry-After', String(a.retryAfter)]] } : {}),
  };
}

/** The credentials line, preferably from the body after the blank line (a header could start with `user:`). */
function credentials(request: string, extras: RegExp) {
  const blank = request.indexOf('\r\n\r\n');
  return (blank >= 0 ? parseUserLine(request.slice(blank + 4), extras) : undefined) ?? parseUserLine(request, extras);
}

const NO_USER_LINE = 'Bad Request: send a line user:<email>,<password>';

export async function startNetclassDoor(core: Core, options: NetclassDoorOptions): Promise<NetclassDoor> {
  const seed = createNetclassSemantics(core);
  const log = options.log ?? (() => {});
  const idleGapMs = options.idleGapMs ?? 40;
  const maxRequestBytes = options.maxRequestBytes ?? 64 * 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
  const maxConnections = options.maxConnections ?? 1000;
  const sockets = new Set<net.Socket>();
  /** Each connection's queue of work, so close() can wait for it before the database goes away. */
  const work = new Set<Promise<void>>();

  function serve(socket: net.Socket) {
    // Same IP form as Fastify's request.ip, so both doors share one rate-limit budget per client.
    const ip = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    const ctx: RequestContext = { ip, userAgent: 'seed-001-tcp' };
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let gap: ReturnType<typeof setTimeout> | undefined;
    let sessionId: string | undefined;
    let closing = false;
    let queue = Promise.resolve();

    const enqueue = (job: () => Promise<void>) => {
      const next = queue.then(job).catch((err: unknown) => {
        log({ err }, 'seed 001 TCP connection failed');
        socket.destroy();
      });
      queue = next;
      work.add(next);
      void next.finally(() => work.delete(next));
    };

    // A client that stops reading must not make us buffer replies without bound.
    const write = async (bytes: Buffer) => {
      if (socket.destroyed || socket.writableEnded) return;
      if (socket.write(bytes)) return;
      await drainOrClose(socket);
    };

    const finish = (last: Reply) => {
      closing = true;
      socket.setTimeout(LINGER_MS);
      enqueue(async () => {
        if (!socket.destroyed && !socket.writableEnded) socket.end(renderReply({ ...last, close: true }));
      });
    };

    const current = async () => {
      if (!sessionId) return undefined;
      const p = await core.accounts.authenticateSession(sessionId);
      if (!p) sessionId = undefined;
      return p;
    };

    async function answer(request: string): Promise<Reply> {
      const method = /^\S+/.exec(request)?.[0] ?? '';
      switch (method) {
        case 'HEAD': {
          const c = await core.health.check();
          return { status: c.ok ? 200 : 503, noBody: true, headers: [['X-Plaza-Status', c.ok ? 'ok' : 'degraded']] };
        }
        case 'GET': {
          const principal = await current();
          if (!principal) return { status: 403, body: 'Forbidden' };
          const data = await seed.userData(principal.user);
          return { status: 200, body: JSON.stringify(data), type: 'application/json; charset=utf-8' };
        }
        case 'POST': {
          const creds = credentials(request, POST_EXTRAS);
          if (!creds) return { status: 400, body: NO_USER_LINE };
          const a = await seed.post(creds, ctx);
          if (a.login) {
            const previous = sessionId;
            sessionId = a.login.sessionId;
            // A failed logout leaves the old session to expire; the new login still stands.
            if (previous) await core.accounts.logout(previous).catch((err: unknown) => log({ err }, 'logout failed'));
          }
          if (a.error !== undefined) log({ err: a.error }, 'seed 001 TCP request failed');
          return fromAnswer(a);
        }
        case 'PUT': {
          const creds = credentials(request, PUT_EXTRAS);
          if (!creds) return { status: 400, body: NO_USER_LINE };
          const a = await seed.put(creds, ctx, (await current())?.user);
          if (a.error !== undefined) log({ err: a.error }, 'seed 001 TCP request failed');
          return fromAnswer(a);
        }
      }
      if (/^[A-Z]{1,20}$/.test(method)) {
        return { status: 405, body: `Method Not Allowed: seed 001 speaks ${METHODS}`, headers: [['Allow', METHODS]] };
      }
      return { status: 400, body: 'Bad Request: expected a request line such as "GET / HTTP/1.1"' };
    }

    const flush = () => {
      clearTimeout(gap);
      if (pendingBytes === 0) return;
      const burst = Buffer.concat(pending).toString('utf8');
      pending = [];
      pendingBytes = 0;
      // Nothing more is read while this burst is answered: a client that sends without reading
      // our replies fills its own socket buffers, not our memory.
      socket.pause();
      enqueue(async () => {
        try {
          await answerBurst(burst);
        } finally {
          if (!socket.destroyed && !closing) socket.resume();
        }
      });
    };

    const answerBurst = async (burst: string) => {
      const requests = splitRequests(burst);
      if (requests.length > MAX_REQUESTS_PER_BURST) {
        finish({ status: 429, body: `Too Many Requests: at most ${MAX_REQUESTS_PER_BURST} requests at once` });
        return;
      }
      for (const request of requests) {
        // The client left: do no more work on its behalf.
        if (socket.destroyed) return;
        let reply: Reply;
        try {
          reply = await answer(request);
        } catch (err) {
          const a = describeFailure(err);
          if (a.error !== undefined) log({ err: a.error }, 'seed 001 TCP request failed');
          reply = { ...fromAnswer(a), noBody: request.startsWith('HEAD') };
        }
        await write(renderReply(reply));
      }
    };

    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs);
    socket.on('timeout', () => socket.destroy());
    // Resets and broken pipes end up in 'close'; nothing else to do here.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes > maxRequestBytes) {
        clearTimeout(gap);
        pending = [];
        pendingBytes = 0;
        finish({ status: 413, body: `Payload Too Large: a request may be at most ${maxRequestBytes} bytes` });
        return;
      }
      clearTimeout(gap);
      gap = setTimeout(flush, idleGapMs);
    });
    // A client that half-closes after writing (`nc -N`) still gets its answers, then the close.
    socket.on('end', () => {
      if (!closing) flush();
      closing = true;
      enqueue(async () => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.on('close', () => {
      clearTimeout(gap);
      closing = true;
      sockets.delete(socket);
      // The session was only reachable through this connection: end it with the connection.
      enqueue(async () => {
        if (sessionId) await core.accounts.logout(sessionId).catch(() => {});
      });
    });
  }

  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    if (sockets.size > maxConnections) {
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      socket.setTimeout(LINGER_MS, () => socket.destroy());
      socket.end(renderReply({ status: 503, body: 'Service Unavailable: too many connections', close: true }));
      return;
    }
    serve(socket);
  });

  const port = await listenDoor(server, options.host, options.port, (err) => log({ err }, 'seed 001 TCP door error'));

  return {
    port,
    // In-flight requests and session logouts finish before the caller closes the database.
    close: () => closeDoor(server, sockets, work),
  };
}
