import net from 'node:net';

export interface RawResponse {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  /** Raw header lines as received (to check exact forms like Set-Cookie). */
  headerLines: string[];
  body: Buffer;
  raw: Buffer;
}

/**
 * One raw TCP connection that writes exact request bytes and reads HTTP/1.1 responses by
 * Content-Length — the way seed clients talk (one keep-alive socket for a whole session).
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** `localAddress` picks the client address (any of 127.0.0.0/8 reaches a loopback server). */
  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  /** The client's port: the server sees it as the connection's remote port. */
  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitFor(pred: () => boolean, timeoutMs: number) {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.closed) throw new Error('connection closed');
      const left = end - Date.now();
      if (left <= 0) throw new Error('timed out waiting for response');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  write(bytes: string | Buffer) {
    this.socket.write(bytes);
  }

  /** Reads one response; `head` says it has no body whatever Content-Length says. */
  async read(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const timeout = opts.timeoutMs ?? 5000;
    await this.waitFor(() => this.buffer.includes('\r\n\r\n'), timeout);
    const end = this.buffer.indexOf('\r\n\r\n');
    const head = this.buffer.subarray(0, end).toString('latin1');
    const [statusLine = '', ...headerLines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of headerLines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = opts.head ? 0 : Number(headers['content-length'] ?? 0);
    await this.waitFor(() => this.buffer.length >= end + 4 + length, timeout);
    const raw = this.buffer.subarray(0, end + 4 + length);
    const body = raw.subarray(end + 4);
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { statusLine, status: Number(statusLine.split(' ')[1]), headers, headerLines, body, raw };
  }

  async request(bytes: string | Buffer, opts: { head?: boolean } = {}) {
    this.write(bytes);
    return this.read(opts);
  }

  close() {
    this.socket.destroy();
  }
}

/** Builds a request the way seed 000's client does: JSON body with a correct Content-Length on any method. */
export function seed000Request(method: string, path: string, body: unknown, extraHeaders: string[] = []): string {
  const json = JSON.stringify(body);
  return [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: keep-alive',
    ...extraHeaders,
    '',
    json,
  ].join('\r\n');
}

/**
 * One request on a connection of its own, closed after the answer: `head` is the request line and
 * headers as sent (Host and a Content-Length for `body` are added when missing); `from` (another
 * 127.x address) makes the request come from another client IP.
 */
export async function requestOnce(
  port: number,
  head: string[],
  body: string | Buffer = '',
  opts: { from?: string } = {},
): Promise<RawResponse> {
  const c = await RawConnection.open(port, '127.0.0.1', opts.from);
  try {
    const [requestLine = '', ...headers] = head;
    if (!headers.some((h) => /^host:/i.test(h))) headers.unshift('Host: 127.0.0.1');
    const length = Buffer.byteLength(body);
    if (length > 0 && !headers.some((h) => /^content-length:/i.test(h))) headers.push(`Content-Length: ${length}`);
    const bytes = Buffer.concat([Buffer.from(`${[requestLine, ...headers].join('\r\n')}\r\n\r\n`), Buffer.from(body)]);
    return await c.request(bytes, { head: requestLine.startsWith('HEAD ') });
  } finally {
    c.close();
  }
}
