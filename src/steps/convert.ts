import {
  createDirectRelationship,
  createIntegrationEntity,
  Entity,
  Relationship,
  RelationshipClass,
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
}

/**
 * Builds the entity for one API resource: the converter's properties, then
 * any attribute Apple added since, validated against the class schema by the
 * SDK. An added attribute that does not fit the schema (say a new `platform`
 * that is not one of the class's values) is left off rather than costing the
 * record; a record whose own properties do not fit is skipped with the reason.
 * Any other error is a bug and is thrown.
 */
export function resourceEntity(input: ResourceEntityInput): Conversion {
  const { properties } = input;
  const extras = extraProperties(input.attributes, input.knownAttributes, properties);
  const rawData = [{ name: 'default', rawData: rawSource(input.resource) }];
  let extraNames: string[] | undefined;
  for (const name in extras) (extraNames ??= []).push(name);

  if (extraNames) {
    try {
      // `properties` first: V8 clones the first spread of a literal on a fast path.
      return { entity: create({ ...properties, ...extras, _rawData: rawData }) };
    } catch (err) {
      if (!isSchemaError(err)) throw err;
    }
  }
  // No extras (the usual case), or they did not fit: the properties object becomes the entity's
  // `assign` as it is.
  properties._rawData = rawData;
  try {
    const entity = create(properties);
    return extraNames ? { entity, dropped: extraNames } : { entity };
  } catch (err) {
    if (!isSchemaError(err)) throw err;
    return {
      skipped: `the ${input.what} does not fit the ${properties._class[0]} schema: ${shorten(err)}`,
    };
  }
}

type EntityAssign = Parameters<typeof createIntegrationEntity>[0]['entityData']['assign'];

function create(assign: Record<string, unknown>): Entity {
  // Raw data goes in through `assign`, not `source`: the SDK copies schema-named fields of
  // `source` (here `id`) into a fresh object and spreads `assign` over it, which drops V8 off its
  // fast object-cloning path and leaves a slow dictionary-mode entity (~60 us per entity, and
  // slower validation and JSON writing after). The entity is the same.
  return createIntegrationEntity({ entityData: { source: {}, assign: assign as EntityAssign } });
}

/** The error the SDK's schema validation throws (data-model's validateEntityWithSchema). */
function isSchemaError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Entity fails to validate as class');
}

/**
 * The raw data kept on the entity: only the JSON:API members, so stray
 * top-level members of a malformed record cannot leak into entity properties
 * (the SDK copies source fields whose names are schema properties).
 */
export function rawSource(resource: Record<string, unknown>): Record<string, unknown> {
  return compact({
    type: resource.type,
    id: resource.id,
    attributes: resource.attributes,
    relationships: resource.relationships,
    links: resource.links,
  });
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
