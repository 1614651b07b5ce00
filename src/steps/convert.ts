import {
  createDirectRelationship,
  Entity,
  Relationship,
  RelationshipClass,
} from '@jupiterone/integration-sdk-core';

import { compact } from './values';

/** A converter's answer: an entity, or why the record was skipped. */
export type Conversion = { entity: Entity } | { skipped: string };

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
