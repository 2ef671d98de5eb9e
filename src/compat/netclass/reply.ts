import { STATUS_CODES } from 'node:http';
import type { SeedAnswer } from './semantics.js';

/** Seed 001's raw TCP replies: an HTTP/1.1 status line, a few headers and a plain-text body. */

export interface Reply {
  status: number;
  body?: string;
  type?: string;
  headers?: [string, string][];
  close?: boolean;
  /** HEAD: headers only. */
  noBody?: boolean;
}

const TEXT = 'text/plain; charset=utf-8';

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

/** The shared seed 001 semantics' answer (semantics.ts) as a reply. */
export function fromAnswer(a: SeedAnswer): Reply {
  return {
    status: a.status,
    body: a.text,
    ...(a.retryAfter !== undefined ? { headers: [['Retry-After', String(a.retryAfter)]] } : {}),
  };
}
