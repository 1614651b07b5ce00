import { Entity, Relationship } from '@jupiterone/integration-sdk-core';
import {
  DEFAULT_GRAPH_OBJECT_BUFFER_THRESHOLD,
  FileSystemGraphObjectStore,
} from '@jupiterone/integration-sdk-runtime';

import { Entities, Steps } from '../../src/steps/constants';
import { PAGE_LIMIT } from '../../src/abm/client';
import { EARLY_BATCH, EARLY_DEVICES } from '../../src/steps/devices';
import { collectFromSandbox } from '../helpers/collect';
import { Sandbox, startSandbox } from '../sandbox';

type Flushed<T> = ((objects: T[]) => Promise<void>) | undefined;

/**
 * A file-system store that notes the size of every batch a step hands it and,
 * for each batch of devices, how many devices handed before it were not yet
 * written to disk.
 */
class RecordingStore extends FileSystemGraphObjectStore {
  readonly entityBatches: Record<string, number[]> = {};
  readonly relationshipBatches: Record<string, number[]> = {};
  readonly unwrittenDevices: number[] = [];
  private devicesHanded = 0;
  private devicesWritten = 0;

  /** Wraps the runtime's callback, which the store calls once the entities are on disk. */
  private countWritten(onFlushed: Flushed<Entity>): Flushed<Entity> {
    return async (entities) => {
      this.devicesWritten += entities.filter((e) => e._type === Entities.DEVICE._type).length;
      await onFlushed?.(entities);
    };
  }

  override async addEntities(
    stepId: string,
    entities: Entity[],
    onFlushed?: (entities: Entity[]) => Promise<void>,
  ): Promise<void> {
    (this.entityBatches[stepId] ??= []).push(entities.length);
    if (stepId === Steps.DEVICES) {
      this.unwrittenDevices.push(this.devicesHanded - this.devicesWritten);
      this.devicesHanded += entities.length;
    }
    return super.addEntities(stepId, entities, this.countWritten(onFlushed));
  }

  override async addRelationships(
    stepId: string,
    relationships: Relationship[],
    onFlushed?: (relationships: Relationship[]) => Promise<void>,
  ): Promise<void> {
    (this.relationshipBatches[stepId] ??= []).push(relationships.length);
    return super.addRelationships(stepId, relationships, onFlushed);
  }

  override async flush(
    onEntitiesFlushed?: (entities: Entity[]) => Promise<void>,
    onRelationshipsFlushed?: (relationships: Relationship[]) => Promise<void>,
  ): Promise<void> {
    return super.flush(this.countWritten(onEntitiesFlushed), onRelationshipsFlushed);
  }
}

describe('devices handed to the SDK', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 2300, servers: 4, seed: 3 });
  });
  afterAll(() => sandbox.stop());

  it('go in small batches, each written before the next, for the first devices; then a page at a time, which the runtime writes at once', async () => {
    // The runtime writes its buffer as soon as it holds this many graph objects, so the rest of
    // the first page, and every page after it, is written as soon as it is handed over.
    expect(PAGE_LIMIT - EARLY_DEVICES).toBeGreaterThanOrEqual(
      DEFAULT_GRAPH_OBJECT_BUFFER_THRESHOLD,
    );
    expect([EARLY_DEVICES, EARLY_BATCH, PAGE_LIMIT]).toEqual([500, 50, 1000]);
    const store = new RecordingStore();
    const graph = await collectFromSandbox(sandbox, { graphObjectStore: store });
    expect(graph.error).toBeUndefined();
    // Pages of 1,000, 1,000 and 300 devices: the first 500 devices 50 at a time, then the rest of
    // the first page, then a page at a time.
    const batches = [...new Array<number>(10).fill(50), 500, 1000, 300];
    expect(store.entityBatches[Steps.DEVICES]).toEqual(batches);
    expect(store.relationshipBatches[Steps.DEVICES]).toEqual(batches);
    // Each batch finds every device handed before it on disk, the small ones included, which
    // the runtime would have kept in its buffer without the devices step's flush.
    expect(store.unwrittenDevices).toEqual(store.entityBatches[Steps.DEVICES].map(() => 0));
    const devices = graph.entities.filter((e) => e._type === Entities.DEVICE._type);
    expect(new Set(devices.map((d) => d._key)).size).toBe(2300);
  });
});
