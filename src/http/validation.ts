import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifySchema, FastifyServerOptions } from 'fastify';

/**
 * Schema compilers. Two validators: URL parts (params, querystring, headers) are strings on the
 * wire and are coerced to their declared types; JSON bodies are typed already and are never
 * coerced, so {"username": 5} is a 400 rather than the user "5".
 *
 * Validators and serializers compile on first use, not at start: compiling every route's schemas
 * up front cost ~300 ms of the 1 s start-up budget (SPEC §11).
 */
export function installValidation(app: FastifyInstance) {
  const common = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
  const forUrl = new Ajv({ ...common, coerceTypes: 'array' });
  const forBody = new Ajv({ ...common, coerceTypes: false });
  for (const ajv of [forUrl, forBody]) ajv.addKeyword({ keyword: 'example' });
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => {
    const ajv = httpPart === 'body' ? forBody : forUrl;
    let compiled: ValidateFunction | undefined;
    const validate = (data: unknown) => {
      compiled ??= ajv.compile(schema as object);
      const ok = compiled(data);
      validate.errors = compiled.errors;
      return ok;
    };
    validate.errors = null as ValidateFunction['errors'];
    return validate;
  });
}

type BuildSerializer = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']
>;

/** Fastify's own fast-json-stringify compiler, deferred to each route's first response. */
export const lazySerializers: BuildSerializer = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas as never, options as never);
  return (route) => {
    let fn: ((data: unknown) => string) | undefined;
    return (data: unknown) => {
      fn ??= compile(route as never) as (data: unknown) => string;
      return fn(data);
    };
  };
};
