/** Exit codes scripts can rely on: one table for the server verbs and the client verbs (README). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  notFound: 4,
  conflict: 5,
  auth: 6,
  unreachable: 7,
  limit: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command used wrongly (exit 2), thrown by the server verbs; the client verbs use ClientError. */
export class UsageError extends Error {}
