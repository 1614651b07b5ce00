import {
  createDirectRelationship,
  createIntegrationEntity,
  Entity,
  Relationship,
  RelationshipClass,
} from '@jupiterone/integration-sdk-core';

import { compact, extraProperties } from './values';

/** A converter's answer: an entity, or why the record was skipped. */
export type Conversion = { entity: Entity } | { skipped: string };

interface ResourceEntityInput {
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  /** Attribute names the converter maps itself; the rest are carried over as they come. */
  knownAttributes: ReadonlySet<string>;
  properties: Record<string, unknown>;
  metadata: { _type: string; _class: string[]; _key: string };
  /** Names the record in a skip reason, e.g. "device". */
  what: string;
}

/**
 * Builds the entity for one API resource: the converter's properties, then
 * any attribute Apple added since, validated against the class schema by the
 * SDK. A record that still does not fit is skipped with the reason.
 */
export function resourceEntity(input: ResourceEntityInput): Conversion {
  const { properties, metadata } = input;
  const extras = extraProperties(input.attributes, input.knownAttributes, properties);
  try {
    const entity = createIntegrationEntity({
      entityData: {
        // Raw data goes in through `assign`, not `source`: the SDK copies schema-named fields of
        // `source` (here `id`) into a fresh object and spreads `assign` over it, which drops V8
        // off its fast object-cloning path and leaves a slow dictionary-mode entity (~60 us per
        // entity, and slower validation and JSON writing after). The entity is the same.
        source: {},
        // `properties` first: V8 clones the first spread of a literal on a fast path. The
        // extras never share a name with a property, so the order does not change the result.
        assign: {
          ...properties,
          ...extras,
          ...metadata,
          _rawData: [{ name: 'default', rawData: rawSource(input.resource) }],
        },
      },
    });
    return { entity };
  } catch (err) {
    return {
      skipped: `the ${input.what} does not fit the ${metadata._class[0]} schema: ${shorten(err)}`,
    };
  }
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
