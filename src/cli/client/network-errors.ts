import { EXIT } from '../exit-codes.js';
import { ClientError } from './errors.js';

const TLS = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

const tlsReason = (err: unknown) => {
  const m = /SSL routines:[^:]*:([^:]+)/.exec((err as Error)?.message ?? '');
  return m?.[1] ?? 'EPROTO';
};

/** A request that never got an answer, as one sentence: refused, unknown host, TLS, timeout. */
export function unreachable(server: string, err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if ((err as Error)?.name === 'AbortError') return new ClientError('ABORTED', 'Interrupted.', EXIT.failure);
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (err as { code?: string })?.code ?? '';
  let why: string;
  if (code === 'ECONNREFUSED') why = 'the connection was refused. Is the server running, and is the URL right?';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = 'no such host. Check the server URL.';
  else if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') why = 'the connection timed out.';
  else if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') why = 'the connection was cut. Try again.';
  else if (TLS.test(code)) why = `a TLS error (${code}). Check the certificate, or the URL's http/https.`;
  // node:https's handshake failures (e.g. https to a plain-HTTP port) are EPROTO with OpenSSL's reason.
  else if (code === 'EPROTO') why = `a TLS error (${tlsReason(err)}). Check the certificate, or the URL's http/https.`;
  else why = `${cause?.message ?? (err as Error)?.message ?? String(err)}.`;
  return new ClientError('UNREACHABLE', `Cannot reach ${server}: ${why}`, EXIT.unreachable);
}
