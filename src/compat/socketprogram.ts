import type { FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import { presentedAccessKey, principalOrConnection, rememberConnectionLogin, requestContext } from '../http/auth.js';
import { mapError } from '../http/errors.js';
import { setSessionCookie } from '../http/session-cookie.js';
import contentDisposition from 'content-disposition';
import { isInlineSafe } from '../files/downloads.js';
import type { FileInfo } from '../files/files.service.js';
import { logFailure } from '../shared/error-map.js';
import { AppError } from '../shared/errors.js';
import { jsonObject, rawBody, stringField } from './body.js';

/**
 * Seed 000 (SocketProgram): plain-text replies its client matches by substring, standard reason
 * phrases, one keep-alive connection per session, JSON bodies on every method.
 */

const BODY_LIMIT = 64 * 1024;
/**
 * Images up to this size go out as one write with their headers: seed 000's client reads with
 * recv(4096) until a short read and ignores Content-Length. Larger ones are streamed, keeping a
 * request's memory bounded. Measured on loopback with the client's read loop: ~87 KB replies
 * arrived whole 20/20, ~170 KB ones rarely — past the socket buffers no server can help that
 * client (the original's sendall could not either), so a larger one-write size only costs memory.
 */
const ONE_WRITE_MAX = 256 * 1024;
/**
 * One-write replies hold their whole image in memory until the socket has taken it, which a
 * client that does not read delays at will: across all connections at most this many bytes are
 * held at once (1,000 connections × 256 KiB would be 250 MiB); past it, replies are streamed as
 * larger images are.
 */
const ONE_WRITE_BUDGET = 32 * 1024 * 1024;
let oneWriteBytes = 0;
/** Budget held by replies still on each connection, given back if it closes first. */
const heldOnConnection = new WeakMap<Socket, Set<() => void>>();

/**
 * Takes `bytes` of the one-write budget for a reply, or says they do not fit. They are given back
 * when the reply closes, or when its connection does: a reply queued behind others on it
 * (pipelined requests) is never closed by Node when the connection dies.
 */
function holdForOneWrite(request: FastifyRequest, reply: FastifyReply, bytes: number): boolean {
  if (oneWriteBytes + bytes > ONE_WRITE_BUDGET) return false;
  const socket = request.raw.socket;
  let held = heldOnConnection.get(socket);
  if (!held) {
    const onConnection = new Set<() => void>();
    heldOnConnection.set(socket, onConnection);
    socket.once('close', () => {
      for (const giveBack of onConnection) giveBack();
    });
    held = onConnection;
  }
  oneWriteBytes += bytes;
  const giveBack = () => {
    if (held.delete(giveBack)) oneWriteBytes -= bytes;
  };
  held.add(giveBack);
  reply.raw.once('close', giveBack);
  return true;
}

/**
 * The key cookie exactly as the seed client parses it: a header line starting with `Set-Cookie:`
 * in that case (it matches case-sensitively), value split on "; " into exactly two parts. Set on
 * the raw response, because Fastify writes its own header names in lower case. The session
 * cookie of a login stays `set-cookie` (lower case), which the client ignores.
 */
function setKeyCookie(reply: FastifyReply, key: string) {
  reply.raw.setHeader('Set-Cookie', `key=${key}; Max-Age=3600`);
}

async function readWhole(fh: FileHandle, size: number): Promise<Buffer> {
  try {
    const bytes = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(bytes, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return bytes.subarray(0, at);
  } finally {
    await fh.close();
  }
}

function text(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(body);
}

/** Seed 000's words for each failure; the status comes from the one error map. */
function fail(request: FastifyRequest, reply: FastifyReply, err: unknown, words: Partial<Record<string, string>>) {
  const m = mapError(err);
  logFailure(request.log, err, m, 'seed 000 request failed');
  if (m.retryAfter !== undefined) reply.header('retry-after', String(m.retryAfter));
  // Only a fault is masked; a server that cannot do it right now says why, in the seed's `WORD: reason`.
  const fallback =
    m.kind === 'fault' ? 'SERVER_ERROR' : m.kind === 'unavailable' ? `SERVER_ERROR: ${m.message}` : `${m.code}: ${m.message}`;
  return text(reply, m.status, words[m.code] ?? fallback);
}

async function credentials(request: FastifyRequest) {
  const body = jsonObject(await rawBody(request, BODY_LIMIT));
  const username = stringField(body, 'username', 320);
  const password = stringField(body, 'password');
  if (username === undefined || password === undefined) {
    throw new AppError('VALIDATION_FAILED', 'username and password are required');
  }
  return { username, password };
}

export function createSocketProgram(core: Core) {
  async function register(request: FastifyRequest, reply: FastifyReply) {
    try {
      const { username, password } = await credentials(request);
      await core.accounts.register({ username, password }, requestContext(request));
      return text(reply, 200, 'REGISTER_SUCCESS');
    } catch (err) {
      const m = mapError(err);
      // The seed answers a taken name with 400, not Plaza's 409.
      if (m.code === 'USERNAME_TAKEN') return text(reply, 400, 'REGISTER_FAILED: User already exists');
      return fail(request, reply, err, {
        VALIDATION_FAILED: `REGISTER_FAILED: ${m.message}`,
        INVALID_JSON: `REGISTER_FAILED: ${m.message}`,
        REGISTRATION_CLOSED: 'REGISTER_FAILED: Registration is closed',
      });
    }
  }

  async function login(request: FastifyRequest, reply: FastifyReply) {
    try {
      const { username, password } = await credentials(request);
      const user = await core.accounts.verifyCredentials(username, password, requestContext(request));
      const session = await core.accounts.startCookieSession(user, requestContext(request));
      setSessionCookie(core, reply, session);
      rememberConnectionLogin(request, session.sessionId);
      return text(reply, 200, 'LOGIN_SUCCESS');
    } catch (err) {
      // SPEC §5.1: every failed login is 401 LOGIN_FAILED (too many attempts stays 429).
      const m = mapError(err);
      if (m.kind === 'client' && m.code !== 'RATE_LIMITED') return text(reply, 401, 'LOGIN_FAILED');
      return fail(request, reply, err, { RATE_LIMITED: 'LOGIN_FAILED: Too many attempts' });
    }
  }

  /** PUT/POST /privilege: needs a login for the same user named in the body; issues a key. */
  async function privilege(request: FastifyRequest, reply: FastifyReply) {
    try {
      const body = jsonObject(await rawBody(request, BODY_LIMIT));
      const named = stringField(body, 'username', 320);
      const principal = await principalOrConnection(core, request);
      if (!principal) throw new AppError('UNAUTHENTICATED', 'login required');
      if (named !== undefined && named.trim().toLowerCase() !== principal.user.username) {
        throw new AppError('FORBIDDEN', 'username does not match the logged-in user');
      }
      const issued = await core.elevation.elevate(principal.user, requestContext(request));
      setKeyCookie(reply, issued.key);
      return text(reply, 200, 'PRIVILEGE_CHANGED');
    } catch (err) {
      return fail(request, reply, err, {
        ACCESS_KEY_ACTIVE: 'PRIVILEGE_ALREADY_CHANGED',
        UNAUTHENTICATED: 'PRIVILEGE_FAILED: Login required',
        FORBIDDEN: 'PRIVILEGE_FAILED: Username does not match the logged-in user',
        RATE_LIMITED: 'PRIVILEGE_FAILED: Too many attempts',
      });
    }
  }

  /** HEAD /images: is the presented key valid (and, when a username is given, that user's)? */
  async function checkImagesKey(request: FastifyRequest, reply: FastifyReply) {
    try {
      const body = jsonObject(await rawBody(request, BODY_LIMIT));
      const named = stringField(body, 'username', 320);
      const key = presentedAccessKey(request);
      const found = key ? await core.elevation.checkKey(key) : undefined;
      let valid = found !== undefined;
      if (found && named !== undefined) {
        const owner = await core.users.findByUsername(named);
        valid = owner?.id === found.userId;
      }
      return text(reply, valid ? 200 : 401, valid ? 'Valid key' : 'Invalid Key');
    } catch (err) {
      return fail(request, reply, err, {});
    }
  }

  /**
   * GET/POST /images {"url": name}: a valid key required; `url` names an image its user may see
   * (original or stored name), looked up in the database — never a filesystem path.
   */
  async function image(request: FastifyRequest, reply: FastifyReply) {
    try {
      const body = jsonObject(await rawBody(request, BODY_LIMIT));
      const url = stringField(body, 'url', 1024);
      const key = presentedAccessKey(request);
      const found = key ? await core.elevation.checkKey(key) : undefined;
      const owner = found ? await core.users.findById(found.userId) : undefined;
      if (!owner || owner.disabled) return text(reply, 401, 'Invalid Key');
      let file: FileInfo | undefined;
      try {
        file = url === undefined ? undefined : await core.files.findVisibleByName(owner, url.replace(/^\/+/, ''), 'images');
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'NOT_FOUND') throw err;
      }
      if (file && notModified(request, reply, file)) return reply;
      const opened = file ? await core.files.open(file).catch(() => undefined) : undefined;
      if (!file || !opened) return notFoundInTwoChunks(reply);
      reply.header('x-content-type-options', 'nosniff');
      if (!isInlineSafe(file.mime)) {
        // SVG is an image to seed 000's client but never rendered in Plaza's origin.
        reply.header('content-disposition', contentDisposition(file.name));
        reply.header('content-security-policy', "default-src 'none'; sandbox");
      }
      reply.code(200).type(file.mime);
      if (opened.size > ONE_WRITE_MAX || !holdForOneWrite(request, reply, opened.size)) {
        return reply.header('content-length', String(opened.size)).send(opened.fh.createReadStream());
      }
      // The client stops at its first short read: headers and body must reach it in one write.
      const bytes = await readWhole(opened.fh, opened.size);
      return reply.send(bytes);
    } catch (err) {
      return fail(request, reply, err, {});
    }
  }

  return { register, login, privilege, checkImagesKey, image };
}

/**
 * The image's validator (its SHA-256, as the native route's), and a 304 with no body when the
 * request already has it: the plaza client's web cache revalidates with If-None-Match (seed 000's
 * own client never sends one, and an extra ETag header changes nothing it reads).
 */
function notModified(request: FastifyRequest, reply: FastifyReply, file: FileInfo): boolean {
  const etag = `"${file.sha256}"`;
  reply.header('etag', etag);
  reply.header('cache-control', 'private, no-cache');
  const inm = request.headers['if-none-match'];
  if (inm === undefined || !inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) return false;
  reply.code(304).send();
  return true;
}

/** The seed client reads a 404 in two reads: headers and body go out as separate writes. */
function notFoundInTwoChunks(reply: FastifyReply) {
  const body = 'Image not found';
  reply.hijack();
  const res = reply.raw;
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.flushHeaders();
  setTimeout(() => res.end(body), 5);
}
