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
 * Entities are built with the project's own converters from one page of the
 * sandbox fleet's devices (generated here, in-process), then relabelled with
 * a unique serial of the same length for every device of the fleet, a page at
 * a time, so at most one page exists outside the SDK's own buffers.
 */
import {
  Entity,
  IntegrationInvocationConfig,
  IntegrationStep,
  Relationship,
} from '@jupiterone/integration-sdk-core';

import { PAGE_LIMIT } from '../../src/abm/client';
import { hasRelationship } from '../../src/steps/convert';
import { convertOrgDevice } from '../../src/steps/devices/converter';
import { convertMdmServer } from '../../src/steps/mdm-servers/converter';
import { convertOrganization } from '../../src/steps/organization/converter';
import {
  deviceKey,
  Entities,
  organizationKey,
  Relationships,
  Steps,
} from '../../src/steps/constants';
import { GeneratedFleet } from '../sandbox/fleet';

export interface FloorInput {
  seed: number;
  devices: number;
  servers: number;
  /** Devices assigned to each server, in the sandbox's order. */
  assignedPerServer: number[];
}

const CLIENT_ID = 'BUSINESSAPI.00000000-0000-4000-8000-000000000000';
const SERIAL_ALPHABET = '0123456789CDFGHJKLMNPQRTVWXY';

function entityOf(result: ReturnType<typeof convertOrgDevice>): Entity {
  if ('skipped' in result) throw new Error(`template record skipped: ${result.skipped}`);
  return result.entity;
}

/** The template's serial with its tail replaced by `index` in base 28: same length, unique. */
function serialFor(templateSerial: string, index: number): string {
  let tail = '';
  let rest = index;
  for (let i = 0; i < 6; i++) {
    tail = SERIAL_ALPHABET[rest % SERIAL_ALPHABET.length] + tail;
    rest = Math.floor(rest / SERIAL_ALPHABET.length);
  }
  return templateSerial.slice(0, templateSerial.length - tail.length) + tail;
}

/** A copy of a converted device with every mention of its serial replaced. */
function relabel(template: Entity, serial: string): Entity {
  const from = String(template.serial);
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(template)) {
    copy[name] =
      typeof value === 'string' && value.includes(from) ? value.split(from).join(serial) : value;
  }
  return copy as Entity;
}

export function floorInvocationConfig(input: FloorInput): IntegrationInvocationConfig {
  const templateFleet = new GeneratedFleet({
    seed: input.seed,
    devices: Math.min(input.devices, PAGE_LIMIT),
    servers: input.servers,
    baseUrl: 'http://127.0.0.1',
  });
  const templates: Entity[] = [];
  for (let i = 0; i < templateFleet.deviceCount; i++) {
    templates.push(entityOf(convertOrgDevice(templateFleet.device(i))));
  }
  const serverEntities = templateFleet.servers.map((s) => entityOf(convertMdmServer(s)));
  const orgKey = organizationKey(CLIENT_ID);
  const deviceKeyAt = (index: number): string =>
    deviceKey(serialFor(String(templates[index % templates.length].serial), index));

  const steps: IntegrationStep[] = [
    {
      id: Steps.ORGANIZATION,
      name: 'Floor: organization',
      entities: [Entities.ORGANIZATION],
      relationships: [],
      async executionHandler({ jobState }) {
        await jobState.addEntity(
          convertOrganization({ clientId: CLIENT_ID, kind: 'business', organization: {} }),
        );
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
        for (let start = 0; start < input.devices; start += PAGE_LIMIT) {
          const entities: Entity[] = [];
          const relationships: Relationship[] = [];
          const end = Math.min(input.devices, start + PAGE_LIMIT);
          for (let index = start; index < end; index++) {
            const template = templates[index % templates.length];
            const entity = relabel(template, serialFor(String(template.serial), index));
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
