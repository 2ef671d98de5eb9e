import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';

/**
 * One security-header policy for every response, set before any other hook can answer (a CSRF
 * refusal, a 404 and a framework error carry it too). Responses that render something tighten or
 * relax the CSP themselves: the server-rendered pages (http/web.ts), downloads (sandboxed,
 * files/downloads.ts) and the API docs (DOCS_HELMET below).
 */

/** JSON and plain-text answers render nothing: nothing may load, nothing may frame them. */
const API_CSP = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
};

/**
 * Swagger UI and ReDoc: their own scripts from this origin, styles they inject at run time,
 * data: images and fonts, the spec fetched from this origin, ReDoc's blob: worker.
 */
export const DOCS_HELMET = {
  helmet: {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        ...API_CSP,
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        workerSrc: ['blob:'],
      },
    },
  },
} as const;

/**
 * The headers an answer written without helmet's hook carries (router errors, answers written to
 * the socket below Fastify): the same policy, for a body that renders nothing.
 */
export const BASELINE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
};

export async function installSecurityHeaders(app: FastifyInstance, config: Pick<Config, 'cookieSecure'>) {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
    // Same-origin pages send their origin with form posts (no `Origin: null`), and no URL leaves.
    referrerPolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
    // Share links and images are meant to be usable from the team's other tools.
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
    // Only where Plaza is served over HTTPS (the setting that makes cookies Secure says so).
    strictTransportSecurity: config.cookieSecure ? { maxAge: 15_552_000, includeSubDomains: false } : false,
  });
}
