import { type TSchema, Type } from 'typebox';

/** The native error body, shared by every route's 4xx/5xx responses. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable SNAKE_CASE error code' }),
      message: Type.String({ description: 'Human-readable explanation' }),
    }),
  },
  { $id: 'ErrorBody', description: 'Error' },
);

const ErrorRef = Type.Unsafe<{ error: { code: string; message: string } }>(Type.Ref('ErrorBody'));

/** Response map entries for the listed error statuses. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = ErrorRef;
  return out;
}
