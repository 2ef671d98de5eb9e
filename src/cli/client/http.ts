import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What a request sends: the few parts of fetch's RequestInit the client uses. */
export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal | null;
}

/** A reply: status and headers at once, the body read (or discarded, or streamed) once. */
export interface HttpReply {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  /** The body as it arrives (for a file: piped, never buffered). */
  stream: IncomingMessage;
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** Drops the body (the connection can be reused). */
  discard(): void;
}

/** A request whose connection is silent this long fails. */
const IDLE_MS = 60_000;

function reply(res: IncomingMessage): HttpReply {
  const status = res.statusCode ?? 0;
  const text = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  return {
    status,
    ok: status >= 200 && status <= 299,
    headers: {
      get(name) {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    stream: res,
    text,
    json: async () => JSON.parse(await text()) as unknown,
    discard: () => {
      res.resume();
    },
  };
}

/**
 * One request over node:http(s). Not fetch: loading undici costs a cold start ~100 ms or more
 * (plaza whoami), and node:http is already what the bulk transfers use. Network failures reject
 * with Node's error (its `code`: ECONNREFUSED, ENOTFOUND, certificate codes).
 */
export function httpSend(url: string, init: HttpInit = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
      method: init.method ?? 'GET',
      headers,
      ...(init.signal ? { signal: init.signal } : {}),
    });
    req.on('response', (res) => resolve(reply(res)));
    req.on('error', reject);
    // A server that accepts and then says nothing: "timed out", not a hang (fetch's undici gave up after 300 s).
    req.setTimeout(IDLE_MS, () => req.destroy(Object.assign(new Error('the server did not answer'), { code: 'ETIMEDOUT' })));
    req.end(init.body);
  });
}
