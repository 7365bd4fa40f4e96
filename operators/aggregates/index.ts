import { z } from 'zod';
import * as count from './count.js';
import * as distinct from './distinct.js';
import * as first from './first.js';
import * as last from './last.js';
import * as max from './max.js';
import * as mean from './mean.js';
import * as min from './min.js';
import * as quantile from './quantile.js';
import * as stddev from './stddev.js';
import * as sum from './sum.js';
import type { AggregateFactory } from './types.js';
import { VigieError, internalError } from '../../src/errors.js';

/** What each aggregate module exports. `create` takes `never` so that every module's own config type fits. */
export interface AggregateModule {
  readonly fn: string;
  readonly schema: z.ZodType;
  create(spec: never): AggregateFactory;
}

/** Registry type: each `fn` maps to the module that declares it, keeping its precise config type. */
export type AggregateRegistry<M extends AggregateModule> = { readonly [K in M['fn']]: Extract<M, { fn: K }> };

/** Build an `fn` -> module map; two modules claiming the same `fn` is a programming error, caught at load. */
export function buildRegistry<const M extends readonly AggregateModule[]>(modules: M): AggregateRegistry<M[number]> {
  // Null prototype: a config's `fn` of "toString" or "__proto__" must not find anything.
  const registry: Record<string, AggregateModule> = Object.create(null);
  for (const module of modules) {
    if (Object.hasOwn(registry, module.fn)) {
      throw internalError(`aggregate registry: duplicate fn "${module.fn}" (two modules declare it)`);
    }
    registry[module.fn] = module;
  }
  return Object.freeze(registry) as AggregateRegistry<M[number]>;
}

export const AGGREGATES = buildRegistry([count, sum, min, max, mean, stddev, distinct, quantile, first, last]);

/** Config of one aggregate; `fn` selects which, and each variant rejects unknown fields. */
export const aggregateSchema = z.discriminatedUnion('fn', [
  count.schema,
  sum.schema,
  min.schema,
  max.schema,
  mean.schema,
  stddev.schema,
  distinct.schema,
  quantile.schema,
  first.schema,
  last.schema,
]);

/** A validated aggregate config (defaults applied). */
export type AggregateConfig = z.infer<typeof aggregateSchema>;

/**
 * Build the factory of one validated aggregate config.
 *
 * @example
 * createAggregate(aggregateSchema.parse({ name: 'p99', fn: 'quantile', field: 'latency_ms', q: 0.99 }))
 */
export function createAggregate(spec: AggregateConfig): AggregateFactory {
  const module = (AGGREGATES as Record<string, AggregateModule | undefined>)[spec.fn];
  if (module === undefined) throw internalError(`unknown aggregate fn "${spec.fn}"`);
  // Safe: the registry is keyed by the same `fn` that discriminates the config union, but TypeScript
  // cannot correlate the two unions, so it needs to be told that this module takes this spec.
  return (module.create as (spec: AggregateConfig) => AggregateFactory)(spec);
}

/**
 * Build the factories of a pipeline's aggregates. Names are the keys of a result's `values`, so they must be unique.
 *
 * @example
 * createAggregates([{ name: 'events', fn: 'count' }, { name: 'total', fn: 'sum', field: 'amount' }])
 */
export function createAggregates(specs: readonly AggregateConfig[]): AggregateFactory[] {
  const seen = new Map<string, number>();
  const factories: AggregateFactory[] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    const previous = seen.get(spec.name);
    if (previous !== undefined) {
      throw new VigieError(
        'VIGIE_ERR_CONFIG',
        `duplicate aggregate name "${spec.name}" (aggregates #${previous + 1} and #${i + 1}): ` +
          'each aggregate of a pipeline needs its own name',
      );
    }
    seen.set(spec.name, i);
    factories.push(createAggregate(spec));
  }
  return factories;
}
