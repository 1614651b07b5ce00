import { validateEntityWithSchema } from '@jupiterone/data-model';
import {
  createDirectRelationship,
  Entity,
  Relationship,
  RelationshipClass,
  validateRawData,
} from '@jupiterone/integration-sdk-core';

import { compact, extraProperties } from './values';

/**
 * A converter's answer: an entity, or why the record was skipped. `dropped`
 * names attributes Apple added that were left off the entity because they do
 * not fit its class schema (the record itself is kept).
 */
export type Conversion = { entity: Entity; dropped?: string[] } | { skipped: string };

/** The properties an entity's converter gives: its own, undefined where the record has no value. */
export interface EntityProperties {
  _key: string;
  _type: string;
  _class: string[];
  [name: string]: unknown;
}

interface ResourceEntityInput {
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  /** Attribute names the converter maps itself; the rest are carried over as they come. */
  knownAttributes: ReadonlySet<string>;
  /**
   * The converter's properties with `_key`, `_type` and `_class`, as one fresh object literal
   * that this function may add to. A property may be undefined: the SDK writes none to the
   * graph, and leaving them in spares a copy of some forty properties per record.
   */
  properties: EntityProperties;
  /** Names the record in a skip reason, e.g. "device". */
  what: string;
  /** Another answer the entity draws on, kept in its raw data under this name after the record's. */
  alsoFrom?: { name: string; resource: Record<string, unknown> };
}

/**
 * Builds the entity for one API resource: the converter's properties, then
 * any attribute Apple added since, validated against the class schema by the
 * SDK's validation (`createEntity`). An added attribute that does not fit the
 * schema (say a new `platform` that is not one of the class's values) is left
 * off rather than costing the record; a record whose own properties do not fit
 * is skipped with the reason. Any other error is a bug and is thrown.
 */
export function resourceEntity(input: ResourceEntityInput): Conversion {
  const { properties } = input;
  const extras = extraProperties(input.attributes, input.knownAttributes, properties);
  const rawData = [{ name: 'default', rawData: rawSource(input.resource) }];
  if (input.alsoFrom) {
    rawData.push({ name: input.alsoFrom.name, rawData: rawSource(input.alsoFrom.resource) });
  }
  let extraNames: string[] | undefined;
  for (const name in extras) (extraNames ??= []).push(name);

  if (extraNames) {
    try {
      // `properties` first: V8 clones the first spread of a literal on a fast path.
      return { entity: createEntity({ ...properties, ...extras, _rawData: rawData }) };
    } catch (err) {
      if (!isSchemaError(err)) throw err;
    }
  }
  // No extras (the usual case), or they did not fit: the properties object becomes the entity.
  properties._rawData = rawData;
  try {
    const entity = createEntity(properties);
    return extraNames ? { entity, dropped: extraNames } : { entity };
  } catch (err) {
    if (!isSchemaError(err)) throw err;
    return {
      skipped: `the ${input.what} does not fit the ${properties._class[0]} schema: ${shorten(err)}`,
    };
  }
}

/**
 * The entity the SDK's `createIntegrationEntity({ entityData: { source: {}, assign } })` makes,
 * checked by the same validators, but made of `assign` itself instead of a copy.
 *
 * That function copies `assign` into a new object (`{ ...assign, _class, _rawData }`) and then
 * fills in what a source would have given. With an empty source, only these of its rules apply:
 * `_class` becomes an array, `_rawData` an array, `tags` is removed, `displayName` defaults to
 * `name`. Its `createdOn` is left undefined, which the graph does not store. Then it checks the raw
 * data's names and, when the runtime turns schema validation on (`collect` does), the entity
 * against its classes' schemas: those two checks are the SDK's own functions, called here alike.
 *
 * The copy was the largest single cost of a device's conversion: it grows the new object's
 * property store a few slots at a time, about 2.6 KB of garbage a device, half of all a conversion
 * allocates (docs/performance-rounds.md, eleventh round). `createEntity.test.ts` checks that the
 * result matches `createIntegrationEntity`'s for any input a converter gives, errors included.
 */
export function createEntity(assign: Record<string, unknown>): Entity {
  const entity = assign;
  if (!Array.isArray(entity._class)) entity._class = [entity._class];
  if (!Array.isArray(entity._rawData)) entity._rawData = [];
  if ('tags' in entity) delete entity.tags;
  if (!entity.displayName && entity.name) entity.displayName = entity.name;
  const generated = entity as unknown as Entity & { _class: string[] };
  validateRawData(generated);
  if (process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION) validateEntityWithSchema(generated);
  return generated;
}

/** The error the SDK's schema validation throws (data-model's validateEntityWithSchema). */
function isSchemaError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Entity fails to validate as class');
}

/**
 * The raw data kept on the entity: only the JSON:API members a resource has (`type`, `id`,
 * `attributes`, `relationships`, `links`), each nested at most MAX_RAW_DEPTH levels. Stray
 * top-level members of a malformed record are not kept: the record's own data is in those members.
 */
export function rawSource(resource: Record<string, unknown>): Record<string, unknown> {
  return compact({
    type: resource.type,
    id: resource.id,
    attributes: boundedDepth(resource.attributes),
    relationships: boundedDepth(resource.relationships),
    links: boundedDepth(resource.links),
  });
}

/** Nesting the raw data keeps; Apple's records nest three levels at most. */
export const MAX_RAW_DEPTH = 100;
/** What stands in the raw data for a value nested deeper than MAX_RAW_DEPTH. */
export const TOO_DEEP = `(left out: nested more than ${MAX_RAW_DEPTH} levels deep)`;

/**
 * A raw data member whose values nest at most MAX_RAW_DEPTH levels: any deeper value is replaced
 * by TOO_DEEP. `JSON.parse` reads any depth, but the SDK writes the graph with `JSON.stringify`,
 * which runs out of stack some thousands of levels down and failed the whole run (found by a
 * review). The member itself is returned, uncopied, when nothing is too deep (every real record).
 */
function boundedDepth(member: unknown): unknown {
  if (typeof member !== 'object' || member === null) return member;
  if (Array.isArray(member)) return nestsDeeper(member, MAX_RAW_DEPTH) ? TOO_DEEP : member;
  let copy: Record<string, unknown> | undefined;
  const record = member as Record<string, unknown>;
  for (const name in record) {
    if (nestsDeeper(record[name], MAX_RAW_DEPTH - 1)) (copy ??= { ...record })[name] = TOO_DEEP;
  }
  return copy ?? member;
}

/** Whether `value` holds objects or arrays more than `levels` deep. */
function nestsDeeper(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeper(value[i], levels - 1)) return true;
    return false;
  }
  for (const name in value) {
    if (nestsDeeper((value as Record<string, unknown>)[name], levels - 1)) return true;
  }
  return false;
}

export function shorten(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 300 ? `${message.slice(0, 300)}...` : message;
}

/** A HAS relationship between two entities known only by type and key. */
export function hasRelationship(
  fromType: string,
  fromKey: string,
  toType: string,
  toKey: string,
): Relationship {
  return createDirectRelationship({
    _class: RelationshipClass.HAS,
    fromType,
    fromKey,
    toType,
    toKey,
  });
}
