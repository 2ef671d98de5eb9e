import WebSocket from 'ws';

/** What every test WebSocket client shares: the close it saw, closing, and waiting for a close. */
export class SocketClient {
  closed: { code: number; reason: string } | undefined;

  constructor(readonly ws: WebSocket) {
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on('error', () => {});
  }

  /** Resolves once `ws` is open; rejects with the HTTP status of a refused upgrade. */
  static opened(ws: WebSocket): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  async close(code = 1000) {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise((r) => this.ws.once('close', r));
    this.ws.close(code);
    await done;
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return this.closed;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('not closed')), timeoutMs);
      this.ws.once('close', (code, reason) => {
        clearTimeout(t);
        resolve({ code, reason: reason.toString() });
      });
    });
  }
}

/** A native chat client for tests: collects every frame and waits for the ones a test expects. */
export class ChatClient extends SocketClient {
  readonly frames: any[] = [];
  private waiters: Array<{ pred: (f: any) => boolean; resolve: (f: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { binary: true } : JSON.parse(data.toString());
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.pred(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(frame);
        }
      }
    });
    ws.on('close', (code, reason) => {
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code} ${reason}) while waiting`));
      }
    });
  }

  /** Opens a connection to /api/chat (or `path`) with a bearer token, cookie or ticket; resolves after `hello`. */
  static async open(base: string, auth: { token?: string; cookie?: string; ticket?: string; origin?: string }, path = '/api/chat') {
    const url = `${base.replace(/^http/, 'ws')}${path}${auth.ticket ? `?ticket=${auth.ticket}` : ''}`;
    const headers: Record<string, string> = {};
    if (auth.token) headers.authorization = `Bearer ${auth.token}`;
    if (auth.cookie) headers.cookie = auth.cookie;
    const ws = new WebSocket(url, { headers, ...(auth.origin ? { origin: auth.origin } : {}) });
    const client = new ChatClient(ws);
    await SocketClient.opened(ws);
    client.hello = await client.next((f) => f.type === 'hello');
    return client;
  }

  hello: any;

  send(frame: unknown) {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (from now on, or already received and not yet taken) matching `pred`. */
  next(pred: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
    for (let i = 0; i < this.frames.length; i++) {
      if (pred(this.frames[i])) {
        const f = this.frames[i];
        this.frames.splice(i, 1);
        return Promise.resolve(f);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out waiting; frames so far: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          const i = this.frames.indexOf(f);
          if (i >= 0) this.frames.splice(i, 1);
          resolve(f);
        },
        reject,
        timer,
      });
    });
  }

  /** Sends a frame with a fresh `ref` and waits for the reply (or error) carrying it. */
  private refs = 0;
  async request(frame: Record<string, unknown>): Promise<any> {
    const ref = `r${++this.refs}`;
    this.send({ ...frame, ref });
    return this.next((f) => f.ref === ref);
  }

  /** Frames of `type` received so far (taken out of the buffer). */
  take(type: string): any[] {
    const out = this.frames.filter((f) => f.type === type);
    for (const f of out) this.frames.splice(this.frames.indexOf(f), 1);
    return out;
  }
}

/** How a test socket authenticates: bearer header, `?token=`, cookie (with its origin). */
export interface Auth {
  token?: string;
  queryToken?: string;
  cookie?: string;
  origin?: string;
}

export function wsUrl(base: string, path: string, auth: Auth = {}) {
  return `${base.replace(/^http/, 'ws')}${path}${auth.queryToken ? `?token=${encodeURIComponent(auth.queryToken)}` : ''}`;
}

export function wsOptions(auth: Auth) {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  return { headers, ...(auth.origin ? { origin: auth.origin } : {}) };
}

/** A seed 004 text client: collects every text frame and waits for the ones a test expects. */
export class TextClient extends SocketClient {
  readonly lines: string[] = [];
  private waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void; timer: NodeJS.Timeout }> = [];

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (data) => {
      const line = data.toString();
      const w = this.waiters.find((x) => x.pred(line));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(line);
      } else this.lines.push(line);
    });
  }

  static async open(base: string, path: string, auth: Auth = {}): Promise<TextClient> {
    const ws = new WebSocket(wsUrl(base, path, auth), wsOptions(auth));
    const c = new TextClient(ws);
    await SocketClient.opened(ws);
    return c;
  }

  /** The first line (already received and not taken, or from now on) matching `pred`. */
  next(pred: string | RegExp | ((l: string) => boolean), timeoutMs = 5000): Promise<string> {
    const test =
      typeof pred === 'string' ? (l: string) => l === pred : pred instanceof RegExp ? (l: string) => pred.test(l) : pred;
    const i = this.lines.findIndex(test);
    if (i >= 0) return Promise.resolve(this.lines.splice(i, 1)[0] as string);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.findIndex((w) => w.timer === timer), 1);
        reject(new Error(`timed out waiting for ${String(pred)}; lines so far: ${JSON.stringify(this.lines.slice(-6))}`));
      }, timeoutMs);
      this.waiters.push({ pred: test, resolve, timer });
    });
  }

  send(text: string) {
    this.ws.send(text);
  }

  /** Sends a command and waits for the reply matching `pred`. */
  async ask(text: string, pred: string | RegExp | ((l: string) => boolean)): Promise<string> {
    this.send(text);
    return this.next(pred);
  }

  /** Lines received so far matching `pred` (taken out). */
  take(pred: RegExp): string[] {
    const out = this.lines.filter((l) => pred.test(l));
    for (const l of out) this.lines.splice(this.lines.indexOf(l), 1);
    return out;
  }
}
