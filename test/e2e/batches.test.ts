import { Entity, Relationship } from '@jupiterone/integration-sdk-core';
import {
  DEFAULT_GRAPH_OBJECT_BUFFER_THRESHOLD,
  FileSystemGraphObjectStore,
} from '@jupiterone/integration-sdk-runtime';

import { Entities, Steps } from '../../src/steps/constants';
import { SDK_BATCH } from '../../src/steps/devices';
import { collectFromSandbox } from '../helpers/collect';
import { Sandbox, startSandbox } from '../sandbox';

/** A file-system store that notes the size of every batch a step hands it. */
class RecordingStore extends FileSystemGraphObjectStore {
  readonly entityBatches: Record<string, number[]> = {};
  readonly relationshipBatches: Record<string, number[]> = {};

  override async addEntities(
    stepId: string,
    entities: Entity[],
    onFlushed?: (entities: Entity[]) => Promise<void>,
  ): Promise<void> {
    (this.entityBatches[stepId] ??= []).push(entities.length);
    return super.addEntities(stepId, entities, onFlushed);
  }

  override async addRelationships(
    stepId: string,
    relationships: Relationship[],
    onFlushed?: (relationships: Relationship[]) => Promise<void>,
  ): Promise<void> {
    (this.relationshipBatches[stepId] ??= []).push(relationships.length);
    return super.addRelationships(stepId, relationships, onFlushed);
  }
}

describe('devices handed to the SDK', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 2300, servers: 4, seed: 3 });
  });
  afterAll(() => sandbox.stop());

  it('go in batches of the size the runtime writes at once, and all of them', async () => {
    // The runtime writes its buffer as soon as it holds this many graph objects, so a batch of
    // this size is written (and its entities can die young) as soon as it is handed over.
    expect(SDK_BATCH).toBe(DEFAULT_GRAPH_OBJECT_BUFFER_THRESHOLD);
    const store = new RecordingStore();
    const graph = await collectFromSandbox(sandbox, { graphObjectStore: store });
    expect(graph.error).toBeUndefined();
    // Pages of 1,000, 1,000 and 300 devices.
    expect(store.entityBatches[Steps.DEVICES]).toEqual([500, 500, 500, 500, 300]);
    expect(store.relationshipBatches[Steps.DEVICES]).toEqual([500, 500, 500, 500, 300]);
    const devices = graph.entities.filter((e) => e._type === Entities.DEVICE._type);
    expect(new Set(devices.map((d) => d._key)).size).toBe(2300);
  });
});
