import { promises as fs } from 'fs';
import path from 'path';
import { Entity, Relationship } from '@jupiterone/integration-sdk-core';

/** Reads every entity and relationship a run wrote under `storageDirectory/graph`. */
export async function readGraph(storageDirectory: string): Promise<{
  entities: Entity[];
  relationships: Relationship[];
}> {
  const entities: Entity[] = [];
  const relationships: Relationship[] = [];
  async function walk(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      if ((await fs.stat(file)).isDirectory()) {
        await walk(file);
      } else if (name.endsWith('.json')) {
        const content = JSON.parse(await fs.readFile(file, 'utf8'));
        entities.push(...(content.entities ?? []));
        relationships.push(...(content.relationships ?? []));
      }
    }
  }
  await walk(path.join(storageDirectory, 'graph'));
  return { entities, relationships };
}

/**
 * A graph object as the SDK stores it: written as JSON, so a property whose
 * value is undefined (converters leave one per missing attribute) is not there.
 */
export function asStored<T>(graphObject: T): T {
  return JSON.parse(JSON.stringify(graphObject)) as T;
}
