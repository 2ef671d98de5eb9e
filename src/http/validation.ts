import { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';

/**
 * Two validators: URL parts (params, querystring, headers) are strings on the wire and are
 * coerced to their declared types; JSON bodies are typed already and are never coerced, so
 * {"username": 5} is a 400 rather than the user "5".
 */
export function installValidation(app: FastifyInstance) {
  const common = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
  const forUrl = new Ajv({ ...common, coerceTypes: 'array' });
  const forBody = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [forUrl, forBody]) ajv.addKeyword({ keyword: 'example' });
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) =>
    (httpPart === 'body' ? forBody : forUrl).compile(schema as object),
  );
}
