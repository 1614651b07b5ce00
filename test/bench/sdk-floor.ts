/**
 * The SDK floor: the same SDK runtime `j1-integration collect` uses
 * (executeIntegrationLocally, a FileSystemGraphObjectStore with the CLI's
 * settings, schema validation on) ingesting the same number of entities and
 * relationships as a collection of the fleet, with the same shapes and the
 * same step layout, but ready-made and with no HTTP at all. Whatever a
 * collection costs above this, the collector spends on its own.
 *
 * It runs through the same `j1-integration collect` as the collector, in its
 * own measured process: a floor project whose `src/index.ts` re-exports
 * `invocationConfig` from here, with BENCH_FLOOR_INPUT holding a FloorInput as
 * JSON. So the CLI's own start-up (its commands, ts-node) is in both figures
 * and cancels out of the ratios.
 *
 * The entities are the collection's own: the benchmark hands over a page of
 * the devices it wrote (raw data as Apple's list served it included), its MDM
 * servers and its organization. Each device is copied for every device of the
 * fleet, a page at a time, with a unique serial of the same length: a deep
 * copy, so every entity holds its own objects and raw data as a collected one
 * does (the strings without the serial in them are shared), and at most one
 * page exists outside the SDK's own buffers.
 */
import {
  Entity,
  IntegrationInvocationConfig,
  IntegrationStep,
  Relationship,
} from '@jupiterone/integration-sdk-core';
import { readFileSync } from 'fs';

import { PAGE_LIMIT } from '../../src/abm/client';
import { hasRelationship } from '../../src/steps/convert';
import { deviceKey, Entities, Relationships, Steps } from '../../src/steps/constants';
import { batchSize, EARLY_DEVICES } from '../../src/steps/devices';

/** Entities of a collection, as it wrote them, that the floor copies. */
export interface FloorTemplates {
  organization?: Entity;
  servers: Entity[];
  devices: Entity[];
}

export interface FloorInput {
  /** A FloorTemplates as JSON. */
  templatesFile: string;
  devices: number;
  /** Devices assigned to each server, in the sandbox's order. */
  assignedPerServer: number[];
}

const SERIAL_ALPHABET = '0123456789CDFGHJKLMNPQRTVWXY';

/** The template's serial with its tail replaced by `index` in base 28: same length, unique. */
export function serialFor(templateSerial: string, index: number): string {
  let tail = '';
  let rest = index;
  for (let i = 0; i < 6; i++) {
    tail = SERIAL_ALPHABET[rest % SERIAL_ALPHABET.length] + tail;
    rest = Math.floor(rest / SERIAL_ALPHABET.length);
  }
  return templateSerial.slice(0, templateSerial.length - tail.length) + tail;
}

/**
 * A deep copy of a device entity with every mention of its serial replaced,
 * in its properties and in its raw data alike: objects and arrays are new,
 * strings are new where the serial is in them.
 */
export function relabel(template: Entity, serial: string): Entity {
  return copierFor(template)(serial);
}

const copiers = new Map<string, (values: unknown[], serial: string) => Entity>();

/**
 * Compiles the copy of one template into object and array literals, so a copy
 * costs the SDK floor about as little as making an object can: the floor is
 * meant to measure the SDK, not its own copying. Templates of the same shape
 * share one compiled function; each keeps its own leaf values.
 */
export function copierFor(template: Entity): (serial: string) => Entity {
  const from = String(template.serial);
  const values: unknown[] = [];
  const leaf = (value: unknown): string => {
    values.push(value);
    return `v[${values.length - 1}]`;
  };
  const code = (value: unknown): string => {
    if (typeof value === 'string' && value.includes(from)) {
      const parts = value.split(from);
      return parts.map((part) => leaf(part)).join(' + s + ');
    }
    if (value === null || typeof value !== 'object') return leaf(value);
    if (Array.isArray(value)) return `[${value.map(code).join(', ')}]`;
    const members = Object.keys(value).map(
      (key) => `${JSON.stringify(key)}: ${code((value as Record<string, unknown>)[key])}`,
    );
    return `{${members.join(', ')}}`;
  };
  const body = `return ${code(template)};`;
  let make = copiers.get(body);
  if (!make) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    make = new Function('v', 's', body) as (values: unknown[], serial: string) => Entity;
    copiers.set(body, make);
  }
  const compiled = make;
  return (serial) => compiled(values, serial);
}

/**
 * The floor's batches of devices, the collector's (`batchSize` in the devices step, each batch
 * ending with its page): the first devices in small batches, each written at once, then the rest
 * of the first page, then a page at a time. So V8 judges the floor's entities as it judges the
 * collector's (without the small batches, in some runs, it allocates them straight into the old
 * generation, and the floor's peak is about 60 MB higher), and the runtime writes the same files.
 */
export function* floorBatches(
  devices: number,
): Generator<{ start: number; end: number; early: boolean }> {
  for (let start = 0; start < devices;) {
    const early = start < EARLY_DEVICES;
    const pageEnd = (Math.floor(start / PAGE_LIMIT) + 1) * PAGE_LIMIT;
    const end = Math.min(devices, pageEnd, start + batchSize(start));
    yield { start, end, early };
    start = end;
  }
}

export function floorInvocationConfig(input: FloorInput): IntegrationInvocationConfig {
  const {
    organization,
    servers: serverEntities,
    devices: templates,
  } = JSON.parse(readFileSync(input.templatesFile, 'utf8')) as FloorTemplates;
  if (!organization || serverEntities.length === 0 || templates.length === 0) {
    throw new Error(`${input.templatesFile} lacks the organization, the servers or the devices`);
  }
  const orgKey = organization._key;
  const copy = templates.map(copierFor);
  const deviceKeyAt = (index: number): string =>
    deviceKey(serialFor(String(templates[index % templates.length].serial), index));

  const steps: IntegrationStep[] = [
    {
      id: Steps.ORGANIZATION,
      name: 'Floor: organization',
      entities: [Entities.ORGANIZATION],
      relationships: [],
      async executionHandler({ jobState }) {
        await jobState.addEntity(organization);
      },
    },
    {
      id: Steps.MDM_SERVERS,
      name: 'Floor: MDM servers',
      entities: [Entities.MDM_SERVER],
      relationships: [Relationships.ORGANIZATION_HAS_MDM_SERVER],
      dependsOn: [Steps.ORGANIZATION],
      async executionHandler({ jobState }) {
        for (const entity of serverEntities) {
          await jobState.addEntity(entity);
          await jobState.addRelationship(
            hasRelationship(
              Entities.ORGANIZATION._type,
              orgKey,
              Entities.MDM_SERVER._type,
              entity._key,
            ),
          );
        }
      },
    },
    {
      id: Steps.DEVICES,
      name: 'Floor: devices',
      entities: [Entities.DEVICE],
      relationships: [Relationships.ORGANIZATION_HAS_DEVICE],
      dependsOn: [Steps.ORGANIZATION],
      async executionHandler({ jobState }) {
        for (const { start, end, early } of floorBatches(input.devices)) {
          const entities: Entity[] = [];
          const relationships: Relationship[] = [];
          for (let index = start; index < end; index++) {
            const slot = index % templates.length;
            const entity = copy[slot](serialFor(String(templates[slot].serial), index));
            entities.push(entity);
            relationships.push(
              hasRelationship(
                Entities.ORGANIZATION._type,
                orgKey,
                Entities.DEVICE._type,
                entity._key,
              ),
            );
          }
          await jobState.addEntities(entities);
          await jobState.addRelationships(relationships);
          if (early) await jobState.flush();
        }
      },
    },
    {
      id: Steps.DEVICE_ASSIGNMENTS,
      name: 'Floor: assignments',
      entities: [],
      relationships: [Relationships.MDM_SERVER_HAS_DEVICE],
      dependsOn: [Steps.MDM_SERVERS, Steps.DEVICES],
      async executionHandler({ jobState }) {
        let next = 0;
        for (let slot = 0; slot < input.assignedPerServer.length; slot++) {
          const serverKey = serverEntities[slot % serverEntities.length]._key;
          let left = input.assignedPerServer[slot];
          while (left > 0) {
            const relationships: Relationship[] = [];
            for (let i = 0; i < Math.min(left, PAGE_LIMIT); i++) {
              relationships.push(
                hasRelationship(
                  Entities.MDM_SERVER._type,
                  serverKey,
                  Entities.DEVICE._type,
                  deviceKeyAt(next++ % input.devices),
                ),
              );
            }
            left -= relationships.length;
            await jobState.addRelationships(relationships);
          }
        }
      },
    },
  ];
  return { instanceConfigFields: {}, integrationSteps: steps };
}

function inputFromEnvironment(): FloorInput {
  const raw = process.env.BENCH_FLOOR_INPUT;
  if (!raw) throw new Error('BENCH_FLOOR_INPUT is not set: the SDK floor runs from npm run bench');
  return JSON.parse(raw) as FloorInput;
}

/**
 * What the floor project's `src/index.ts` re-exports, so `j1-integration
 * collect` loads it the way it loads the collector: same CLI, same runtime,
 * same store settings, same schema validation, same module loading.
 */
export const invocationConfig: IntegrationInvocationConfig | undefined = process.env
  .BENCH_FLOOR_INPUT
  ? floorInvocationConfig(inputFromEnvironment())
  : undefined;
