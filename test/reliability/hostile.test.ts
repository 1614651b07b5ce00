/**
 * Hostile data, end to end through the steps: fast-check generates whole API
 * answers (plausible devices and servers, with attributes missing, null, of
 * the wrong type, huge, in any unicode, with unknown enum values and extra
 * attributes, and records that are not objects at all) and a fake fetch
 * serves them, paged, to the real steps. Every record becomes one
 * schema-valid entity or is skipped and counted in a warning; nothing throws;
 * no key is emitted twice; no relationship dangles.
 */
import { randomUUID } from 'crypto';
import fc from 'fast-check';
import { Entity, IntegrationInvocationConfig } from '@jupiterone/integration-sdk-core';
import { executeStepWithDependencies } from '@jupiterone/integration-sdk-testing';

import { createInvocationConfig } from '../../src';
import { IntegrationConfig } from '../../src/config';
import { ORG_DEVICE_ATTRIBUTES } from '../../src/abm/types';
import { EntitySchemas, Steps } from '../../src/steps/constants';
import { SkipTally } from '../../src/steps/tally';
import { fakeFetch } from '../helpers/fakeFetch';
import { generateP256 } from '../helpers/keys';
import { Types } from './support';

const KEY = generateP256();
const instanceConfig: IntegrationConfig = {
  clientId: `BUSINESSAPI.${randomUUID()}`,
  keyId: randomUUID(),
  privateKey: KEY.pkcs8,
};

/** Any value JSON can carry, weighted towards the nasty ones. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.fullUnicodeString({ maxLength: 40 }),
  fc.string({ minLength: 5_000, maxLength: 20_000 }),
  fc.constantFrom('', ' ', 'ASSIGNED', 'UNASSIGNED', 'SOMETHING_NEW', 'iPhone', 'Toaster', 'APPLE'),
  fc.constantFrom('2024-02-30T25:61:00Z', '2024-05-02T11:12:13.456Z', 'yesterday', '0', '-1e309'),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.array(fc.oneof(fc.fullUnicodeString({ maxLength: 20 }), fc.integer(), fc.constant(null)), {
    maxLength: 4,
  }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.fullUnicodeString({ maxLength: 8 }), {
    maxKeys: 3,
  }),
);

/** A small pool makes repeats across pages likely; the rest are anything. */
const serial = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('C02XL0GFJGH5', 'F9FXK2ABCD', 'DMPXQ1AAAA12', 'HQJPQXBA73'),
  },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Z0-9]{8,14}$/) },
  { weight: 1, arbitrary: hostileValue },
);

const device = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        type: fc.constantFrom('orgDevices', 'somethingElse'),
        id: serial,
        attributes: fc
          .tuple(
            fc.record(
              Object.fromEntries(ORG_DEVICE_ATTRIBUTES.map((name) => [name, hostileValue])),
              { requiredKeys: [] },
            ),
            serial,
            fc.dictionary(fc.fullUnicodeString({ maxLength: 12 }), hostileValue, { maxKeys: 4 }),
          )
          .map(([known, serialNumber, extra]) => ({ ...extra, ...known, serialNumber })),
        relationships: hostileValue,
        links: hostileValue,
      },
      { requiredKeys: ['attributes'] },
    ),
  },
  { weight: 1, arbitrary: hostileValue },
);

const server = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        type: fc.constant('mdmServers'),
        id: fc.oneof(
          fc.stringMatching(/^[0-9A-F]{32}$/),
          fc.constantFrom('A'.repeat(32)),
          hostileValue,
        ),
        attributes: fc.dictionary(
          fc.constantFrom(
            'serverName',
            'serverType',
            'createdDateTime',
            'updatedDateTime',
            'status',
            'defaultProductFamilies',
            'deviceCount',
            'enableMdmDisownFlag',
            'lastConnectedDateTime',
            'lastConnectedIp',
            'somethingNew',
          ),
          hostileValue,
        ),
      },
      { requiredKeys: ['id'] },
    ),
  },
  { weight: 1, arbitrary: hostileValue },
);

/** Serves `items` as a paged list at `path`, and a token; everything else 404s. */
function serving(path: string, items: unknown[], pageSize: number) {
  return fakeFetch((url) => {
    if (url.pathname.endsWith('/auth/oauth2/token')) {
      return {
        body: { access_token: 'hostile-test-token', token_type: 'Bearer', expires_in: 3600 },
      };
    }
    if (url.pathname === `/v1${path}`) {
      const page = Number(url.searchParams.get('cursor') ?? '0');
      const data = items.slice(page * pageSize, (page + 1) * pageSize);
      const more = (page + 1) * pageSize < items.length;
      return {
        body: {
          data,
          links: { self: url.href },
          meta: { paging: { limit: pageSize, ...(more ? { nextCursor: String(page + 1) } : {}) } },
        },
      };
    }
    return { status: 404, body: { errors: [{ status: '404', code: 'NOT_FOUND' }] } };
  });
}

function invocation(fetch: ReturnType<typeof fakeFetch>): IntegrationInvocationConfig {
  return createInvocationConfig({
    http: { fetch, baseBackoffMs: 1, maxBackoffMs: 2 },
  }) as unknown as IntegrationInvocationConfig;
}

function expectNoDuplicateKeys(objects: Array<{ _key: string }>): void {
  const keys = objects.map((o) => o._key);
  expect(new Set(keys).size).toBe(keys.length);
}

describe('hostile API payloads through the steps', () => {
  let skips: jest.SpyInstance;
  let reports: jest.SpyInstance;
  beforeEach(() => {
    skips = jest.spyOn(SkipTally.prototype, 'add');
    reports = jest.spyOn(SkipTally.prototype, 'report');
  });
  afterEach(() => jest.restoreAllMocks());

  it('devices: each becomes a schema-valid entity or a counted skip; nothing throws', async () => {
    const seen = { entities: 0, skips: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(device, { maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        async (items, pageSize) => {
          skips.mockClear();
          reports.mockClear();
          const fetch = serving('/orgDevices', items, pageSize);
          const result = await executeStepWithDependencies({
            stepId: Steps.DEVICES,
            invocationConfig: invocation(fetch),
            instanceConfig,
          });
          const devices = result.collectedEntities.filter((e: Entity) => e._type === Types.DEVICE);
          seen.entities += devices.length;
          seen.skips += skips.mock.calls.length;
          // One outcome per record: an entity or a skip, never both, never neither.
          expect(devices.length + skips.mock.calls.length).toBe(items.length);
          if (skips.mock.calls.length > 0) expect(reports).toHaveBeenCalled();
          expectNoDuplicateKeys([...result.collectedEntities, ...result.collectedRelationships]);
          if (devices.length > 0) {
            expect(devices).toMatchGraphObjectSchema({
              _class: ['Device'],
              schema: { ...EntitySchemas.DEVICE, additionalProperties: true },
            });
          }
          // The organization comes from the dependency step, which the result leaves out.
          const keys = new Set([
            `${Types.ORGANIZATION}:${instanceConfig.clientId}`,
            ...result.collectedEntities.map((e: Entity) => e._key),
          ]);
          for (const r of result.collectedRelationships) {
            expect(keys.has(String(r._fromEntityKey)) && keys.has(String(r._toEntityKey))).toBe(
              true,
            );
          }
          expect(
            result.collectedRelationships.filter((r) => r._type === Types.ORG_HAS_DEVICE),
          ).toHaveLength(devices.length);
        },
      ),
      { seed: 20261122, numRuns: 60 },
    );
    // Both outcomes really happened: the property is not vacuous.
    expect(seen.entities).toBeGreaterThan(50);
    expect(seen.skips).toBeGreaterThan(50);
  });

  it('MDM servers: each becomes a schema-valid entity or a counted skip; nothing throws', async () => {
    const seen = { entities: 0, skips: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(server, { maxLength: 15 }),
        fc.integer({ min: 1, max: 4 }),
        async (items, pageSize) => {
          skips.mockClear();
          const fetch = serving('/mdmServers', items, pageSize);
          const result = await executeStepWithDependencies({
            stepId: Steps.MDM_SERVERS,
            invocationConfig: invocation(fetch),
            instanceConfig,
          });
          const servers = result.collectedEntities.filter(
            (e: Entity) => e._type === Types.MDM_SERVER,
          );
          seen.entities += servers.length;
          seen.skips += skips.mock.calls.length;
          expect(servers.length + skips.mock.calls.length).toBe(items.length);
          expectNoDuplicateKeys([...result.collectedEntities, ...result.collectedRelationships]);
          if (servers.length > 0) {
            expect(servers).toMatchGraphObjectSchema({
              _class: ['Service'],
              schema: { ...EntitySchemas.MDM_SERVER, additionalProperties: true },
            });
          }
        },
      ),
      { seed: 20261123, numRuns: 60 },
    );
    expect(seen.entities).toBeGreaterThan(20);
    expect(seen.skips).toBeGreaterThan(20);
  });
});
