/**
 * Hostile data, end to end through the steps: fast-check generates whole API
 * answers (plausible devices and servers, with attributes missing, null, of
 * the wrong type, huge, in any unicode, with unknown enum values and extra
 * attributes, and records that are not objects at all) and a fake fetch
 * serves them, paged, to the real steps. Every record becomes one
 * schema-valid entity or is skipped and counted in a warning; nothing throws;
 * no key is emitted twice; no relationship dangles.
 *
 * Then whole runs (the real runtime, as `j1-integration collect`, with a fake
 * fetch) over a well-formed fleet whose MDM servers' device id lists, or whose
 * list envelopes (`data`, `meta.paging.nextCursor`, `links.next`, `total`),
 * are hostile. Every run ends in one of three ways: the complete graph, with
 * bad records counted in warnings; or a failed step whose types are partial
 * while every other type is exactly complete. Never a throw out of the run,
 * never a short list reported as complete, never a dangling relationship.
 */
import { randomUUID } from 'crypto';
import fc from 'fast-check';
import { Entity, IntegrationInvocationConfig } from '@jupiterone/integration-sdk-core';
import { IntegrationLogger } from '@jupiterone/integration-sdk-runtime';
import { executeStepWithDependencies } from '@jupiterone/integration-sdk-testing';

import { createInvocationConfig } from '../../src';
import { IntegrationConfig } from '../../src/config';
import { MDM_SERVER_ATTRIBUTES, ORG_DEVICE_ATTRIBUTES } from '../../src/abm/types';
import { REPEATED_ID_REASON, SEVERAL_SERVERS_REASON } from '../../src/steps/assignments';
import { DUPLICATE_DEVICE_REASON, RELEASE_UNKNOWN_REASONS } from '../../src/steps/devices';
import { EntitySchemas, Steps } from '../../src/steps/constants';
import { SkipTally } from '../../src/steps/tally';
import { collectWithEnv, CollectedGraph } from '../helpers/collect';
import { FakeHandler, fakeFetch } from '../helpers/fakeFetch';
import { generateP256 } from '../helpers/keys';
import { GeneratedFleet } from '../sandbox/fleet';
import {
  expectComplete,
  expectHonest,
  graphDifferences,
  ofType,
  partialTypes,
  stepStatuses,
  Types,
} from './support';

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

/**
 * Attributes Apple might add under the name of a Device class property, of
 * another type or value: left off the entity, the record kept and counted.
 */
const misfits = fc.record(
  {
    encrypted: fc.constantFrom('yes', 'no'),
    webLink: fc.constant('not a link'),
    batteryHealth: fc.constant('GOOD'),
  },
  { requiredKeys: [] },
);

/** Reasons the steps count for records they kept without some attributes (the rest are skips). */
const isTrimmed = (reason: string): boolean => reason.startsWith('attributes Apple added');

/**
 * The warnings a run gave: each `SkipTally.report` call's `what` (and outcome, when given) whose
 * tally held records. Every tally reports, an empty one saying nothing, so a call alone proves
 * nothing.
 */
function warned(reports: jest.SpyInstance): string[] {
  return reports.mock.calls.flatMap((args: unknown[], i: number) =>
    (reports.mock.instances[i] as unknown as SkipTally).total > 0
      ? [[args[1], args[2]].filter((part) => part !== undefined).join(' / ')]
      : [],
  );
}

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
            misfits,
          )
          .map(([known, serialNumber, extra, added]) => ({
            ...extra,
            ...added,
            ...known,
            serialNumber,
          })),
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
          fc.constantFrom(...MDM_SERVER_ATTRIBUTES, 'somethingNew'),
          hostileValue,
        ),
      },
      { requiredKeys: ['id'] },
    ),
  },
  { weight: 1, arbitrary: hostileValue },
);

/** Serves `items` as a paged list at `path`, and a token; everything else `other` answers, or 404s. */
function serving(path: string, items: unknown[], pageSize: number, other?: FakeHandler) {
  return fakeFetch((url, init, call) => {
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
    if (other) return other(url, init, call);
    return { status: 404, body: { errors: [{ status: '404', code: 'NOT_FOUND' }] } };
  });
}

function invocation(fetch: ReturnType<typeof fakeFetch>): IntegrationInvocationConfig {
  return createInvocationConfig({
    http: { fetch, baseBackoffMs: 1, maxBackoffMs: 2 },
  }) as unknown as IntegrationInvocationConfig;
}

/** The devices step, with its dependencies, against `fetch`, with checkReleasedDevices on. */
function checkingReleases(fetch: ReturnType<typeof fakeFetch>) {
  return executeStepWithDependencies({
    stepId: Steps.DEVICES,
    invocationConfig: invocation(fetch),
    instanceConfig: { ...instanceConfig, checkReleasedDevices: true },
  });
}

/** Reasons the devices step counts a device kept without knowing whether it was released. */
const RELEASE_UNKNOWN = new Set<string>(RELEASE_UNKNOWN_REASONS);

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

  it('looks each kept device up once, by its status as the converter reads it: not a repeated record, a record without an id by its serial number, and an unreadable release date counted', async () => {
    const released = '2025-06-01T10:00:00Z';
    const device = (id: string | undefined, serialNumber: string, status: unknown) => ({
      type: 'orgDevices',
      ...(id === undefined ? {} : { id }),
      attributes: { serialNumber, status },
    });
    // Two to a page: R1 is listed again on the second page, as a page shifted by a new device
    // repeats the end of the one before; R2 comes without an id; E1's status is blank and W1's
    // padded; B1's release date cannot be read.
    const fetch = serving(
      '/orgDevices',
      [
        device('R1', 'R1', 'UNASSIGNED'),
        device('N1', 'N1', 'ASSIGNED'),
        device('R1', 'R1', 'UNASSIGNED'),
        device(undefined, 'R2', 'UNASSIGNED'),
        device('E1', 'E1', ''),
        device('W1', 'W1', ' UNASSIGNED '),
        device('B1', 'B1', 'UNASSIGNED'),
      ],
      2,
      (url) => {
        const id = url.pathname.slice('/v1/orgDevices/'.length);
        if (!['R1', 'R2', 'E1', 'W1', 'B1'].includes(id)) {
          return { status: 404, body: { errors: [{ status: '404', code: 'NOT_FOUND' }] } };
        }
        const date = id === 'B1' ? '2025-13-45T99:00:00Z' : released;
        const record = device(id, id, 'UNASSIGNED');
        const attributes = { ...record.attributes, releasedFromOrgDateTime: date };
        return { body: { data: { ...record, attributes } } };
      },
    );
    const info = jest.spyOn(IntegrationLogger.prototype, 'info');
    const result = await checkingReleases(fetch);
    const devices = result.collectedEntities.filter((e: Entity) => e._type === Types.DEVICE);
    expect(devices.map((d: Entity) => [d.serial, d.status])).toEqual([
      ['R1', 'decommissioned'],
      ['N1', 'assigned'],
      ['R2', 'decommissioned'],
      ['E1', 'decommissioned'],
      ['W1', 'decommissioned'],
      ['B1', 'ready'],
    ]);
    const lookups = fetch.calls
      .map((c) => c.url.pathname)
      .filter((p) => p.startsWith('/v1/orgDevices/'));
    expect(lookups).toEqual(['R1', 'R2', 'E1', 'W1', 'B1'].map((id) => `/v1/orgDevices/${id}`));
    // The log's count is the graph's: 4, where the repeat made R1 count twice before.
    const messages = info.mock.calls.map((args: unknown[]) => args[args.length - 1]);
    expect(messages).toContain('Collected 6 devices (4 released from the organization).');
    // B1 is kept, its answer in its raw data, and counted.
    const b1 = devices.find((d: Entity) => d.serial === 'B1');
    expect(b1?._rawData?.map((r: { name: string }) => r.name)).toEqual(['default', 'orgDevice']);
    const unreadable = (skips.mock.calls as Array<[string, string?]>).filter(([reason]) =>
      reason.includes('could not be read'),
    );
    expect(unreadable.map(([, example]) => example)).toEqual(['B1']);
  });

  it('looks a device up by the serial number it is kept under, and lets the answer, not the list, say whether it was released', async () => {
    const record = (id: string | undefined, serialNumber: string, extra = {}) => ({
      type: 'orgDevices',
      ...(id === undefined ? {} : { id }),
      attributes: { serialNumber, status: 'UNASSIGNED', ...extra },
    });
    const fetch = serving(
      '/orgDevices',
      [
        // Its list record says released; Apple's own answer says not.
        record('L1', 'L1', { releasedFromOrgDateTime: '2024-05-02T11:12:13.456Z' }),
        // Its id is another device's serial number, or padded.
        record('OTHER', 'MINE'),
        record(' PAD1 ', 'PAD1'),
      ],
      10,
      (url) => {
        const serial = url.pathname.slice('/v1/orgDevices/'.length);
        const attributes =
          serial === 'L1' ? {} : { releasedFromOrgDateTime: '2025-06-01T10:00:00Z' };
        return { body: { data: { type: 'orgDevices', id: serial, attributes } } };
      },
    );
    const result = await checkingReleases(fetch);
    const lookups = fetch.calls
      .map((c) => c.url.pathname)
      .filter((p) => p.startsWith('/v1/orgDevices/'));
    expect(lookups).toEqual(['/v1/orgDevices/L1', '/v1/orgDevices/MINE', '/v1/orgDevices/PAD1']);
    const devices = result.collectedEntities.filter((e: Entity) => e._type === Types.DEVICE);
    expect(devices.map((d: Entity) => [d.serial, d.status, d.releasedFromOrgOn])).toEqual([
      ['L1', 'ready', undefined],
      ['MINE', 'decommissioned', Date.parse('2025-06-01T10:00:00Z')],
      ['PAD1', 'decommissioned', Date.parse('2025-06-01T10:00:00Z')],
    ]);
  });

  it('devices whose id is only dots are looked up by their serial number (a URL would resolve such an id away), and counted when that is only dots too', async () => {
    const unassigned = (id: string, serialNumber: string) => ({
      type: 'orgDevices',
      id,
      attributes: { serialNumber, status: 'UNASSIGNED' },
    });
    const fetch = serving(
      '/orgDevices',
      [unassigned('.', 'SERIAL0001'), unassigned('..', '..'), unassigned('OK01', 'OK01')],
      10,
    );
    const result = await checkingReleases(fetch);
    expect(result.collectedEntities.filter((e: Entity) => e._type === Types.DEVICE)).toHaveLength(
      3,
    );
    const paths = fetch.calls.map((c) => c.url.pathname);
    // Each device with an address is looked up; the list was asked for once, nothing else.
    expect(paths.filter((p) => p.startsWith('/v1/orgDevices/'))).toEqual([
      '/v1/orgDevices/SERIAL0001',
      '/v1/orgDevices/OK01',
    ]);
    expect(paths.filter((p) => p === '/v1/orgDevices')).toHaveLength(1);
    expect(paths.every((p) => p.startsWith('/v1/orgDevices') || p.endsWith('/token'))).toBe(true);
    const reasons = (skips.mock.calls as Array<[string, string?]>).filter(([r]) =>
      r.includes('only dots'),
    );
    expect(reasons.map(([, id]) => id)).toEqual(['..']);
  });

  it('devices: each becomes a schema-valid entity or a counted skip; nothing throws', async () => {
    const seen = { entities: 0, skips: 0, trimmed: 0 };
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
          const calls = skips.mock.calls as Array<[string, string?]>;
          const skipped = calls.filter(([reason]) => !isTrimmed(reason));
          const trimmed = calls.filter(([reason]) => isTrimmed(reason));
          seen.entities += devices.length;
          seen.skips += skipped.length;
          seen.trimmed += trimmed.length;
          // One outcome per record: an entity or a skip, never both, never neither.
          expect(devices.length + skipped.length).toBe(items.length);
          const repeats = skipped.filter(([reason]) => reason === DUPLICATE_DEVICE_REASON).length;
          expect(warned(reports).includes('repeated device records')).toBe(repeats > 0);
          expect(warned(reports).includes('devices')).toBe(skipped.length > repeats);
          // A record kept without its added attributes is an entity, and counted in a warning.
          const serials = new Set(devices.map((d: Entity) => String(d.serial)));
          for (const [, example] of trimmed) expect(serials.has(String(example))).toBe(true);
          expect(warned(reports).includes('devices / kept without some attributes')).toBe(
            trimmed.length > 0,
          );
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
    // Every outcome really happened: the property is not vacuous.
    expect(seen.entities).toBeGreaterThan(50);
    expect(seen.skips).toBeGreaterThan(50);
    expect(seen.trimmed).toBeGreaterThan(10);
  });

  it("devices with checkReleasedDevices: each kept device looked up at most once, the released count the graph's, every unknown counted", async () => {
    const released = '2025-06-01T10:00:00Z';
    const seen = { lookups: 0, released: 0, unknown: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(device, { maxLength: 30 }),
        fc.integer({ min: 1, max: 7 }),
        async (items, pageSize) => {
          skips.mockClear();
          // The single-device GET answers by the address's length: released, not released, a
          // date that cannot be read, or 404.
          const fetch = serving('/orgDevices', items, pageSize, (url) => {
            const id = decodeURIComponent(url.pathname.slice('/v1/orgDevices/'.length));
            const answer = [released, undefined, 'someday', 404][id.length % 4];
            if (answer === 404) return { status: 404, body: { errors: [{ status: '404' }] } };
            const attributes = answer === undefined ? {} : { releasedFromOrgDateTime: answer };
            return { body: { data: { type: 'orgDevices', id, attributes } } };
          });
          const info = jest.spyOn(IntegrationLogger.prototype, 'info');
          const result = await checkingReleases(fetch);
          const devices = result.collectedEntities.filter((e: Entity) => e._type === Types.DEVICE);
          const calls = skips.mock.calls as Array<[string, string?]>;
          const unknown = calls.filter(([reason]) => RELEASE_UNKNOWN.has(reason));
          const skipped = calls.filter(
            ([reason]) => !isTrimmed(reason) && !RELEASE_UNKNOWN.has(reason),
          );
          // One outcome per record still: an entity or a skip; a release unknown is an entity.
          expect(devices.length + skipped.length).toBe(items.length);
          // Each device looked up at most once, by the serial number it is kept under.
          const lookups = fetch.calls
            .map((c) => c.url.pathname)
            .filter((p) => p.startsWith('/v1/orgDevices/'))
            .map((p) => decodeURIComponent(p.slice('/v1/orgDevices/'.length)));
          expect(new Set(lookups).size).toBe(lookups.length);
          const bySerial = new Map(devices.map((d: Entity) => [String(d.serial), d]));
          // Exactly the devices the list shows unassigned or without a status (as the entity's
          // assignmentStatus says, read as the converter reads it) were looked up, or counted
          // as having no address.
          const candidates = devices.filter(
            (d: Entity) => d.assignmentStatus === undefined || d.assignmentStatus === 'UNASSIGNED',
          );
          const unaddressable = unknown.filter(([r]) => r.includes('only dots'));
          expect(lookups.length + unaddressable.length).toBe(candidates.length);
          // The answer decides, whatever the list's record says: released with the answer's
          // date, or not released; 404s and unreadable dates counted.
          for (const serial of lookups) {
            const kind = serial.length % 4;
            const device = bySerial.get(serial);
            expect(device).toBeDefined();
            if (kind === 0) {
              expect(device).toMatchObject({
                status: 'decommissioned',
                active: false,
                releasedFromOrgOn: Date.parse(released),
              });
            } else {
              expect(device?.status).not.toBe('decommissioned');
              expect(device?.releasedFromOrgOn).toBeUndefined();
            }
          }
          expect(
            unknown
              .filter(([r]) => !r.includes('only dots'))
              .map(([, id]) => id)
              .sort(),
          ).toEqual(lookups.filter((serial) => serial.length % 4 >= 2).sort());
          // The log's released count is the graph's (a device not looked up is released if its
          // list record says so).
          const decommissioned = devices.filter((d: Entity) => d.status === 'decommissioned');
          for (const d of decommissioned) {
            expect(d).toMatchObject({ active: false, releasedFromOrgOn: expect.any(Number) });
          }
          const messages = info.mock.calls.map((args: unknown[]) => String(args[args.length - 1]));
          expect(messages).toContain(
            `Collected ${devices.length} devices (${decommissioned.length} released from the organization).`,
          );
          info.mockRestore();
          seen.lookups += lookups.length;
          seen.released += decommissioned.length;
          seen.unknown += unknown.length;
        },
      ),
      { seed: 1, numRuns: 100 },
    );
    // Every outcome really happened: the property is not vacuous.
    expect(seen.lookups).toBeGreaterThan(30);
    expect(seen.released).toBeGreaterThan(5);
    expect(seen.unknown).toBeGreaterThan(5);
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
          // One organization HAS server per server, from the organization to a server emitted.
          const orgKey = `${Types.ORGANIZATION}:${instanceConfig.clientId}`;
          const serverKeys = new Set(servers.map((e: Entity) => e._key));
          const links = result.collectedRelationships.filter(
            (r) => r._type === Types.ORG_HAS_SERVER,
          );
          expect(links).toHaveLength(servers.length);
          expect(result.collectedRelationships).toHaveLength(links.length);
          for (const link of links) {
            expect({
              from: link._fromEntityKey,
              to: serverKeys.has(String(link._toEntityKey)),
            }).toEqual({ from: orgKey, to: true });
          }
        },
      ),
      { seed: 20261123, numRuns: 60 },
    );
    expect(seen.entities).toBeGreaterThan(20);
    expect(seen.skips).toBeGreaterThan(20);
  });
});

/** Never contacted: every run below gets its answers from an injected fetch. */
const ORIGIN = 'http://127.0.0.1:9';
const fleet = new GeneratedFleet({ seed: 61, devices: 23, servers: 5, baseUrl: ORIGIN });
const SERIALS = Array.from({ length: fleet.deviceCount }, (_, i) => fleet.device(i).id);
const SERVER_IDS = fleet.servers.map((s) => s.id);
const ENV = {
  CLIENT_ID: instanceConfig.clientId,
  KEY_ID: instanceConfig.keyId,
  PRIVATE_KEY: KEY.pkcs8,
  API_BASE_URL: ORIGIN,
  TOKEN_URL: `${ORIGIN}/auth/oauth2/token`,
};

type ListName = 'devices' | 'servers' | 'ids';

interface Envelope {
  data: unknown;
  links: Record<string, unknown>;
  meta: { paging: Record<string, unknown> };
}

interface ApiPlan {
  /** Each MDM server's device id list, as served. */
  ids: Map<string, unknown[]>;
  pageSize: number;
  /** Rewrites the envelope of one page of one list (`server` names the id list). */
  mutate?: {
    list: ListName;
    server?: string;
    page: number;
    apply: (envelope: Envelope, last: boolean) => unknown;
  };
}

/** The fleet's id lists as Apple serves them. */
function fleetIds(): Map<string, unknown[]> {
  return new Map(
    SERVER_IDS.map((id) => [
      id,
      [...fleet.serverDeviceIndices(id)].map((i) => ({ type: 'orgDevices', id: SERIALS[i] })),
    ]),
  );
}

/** The API over the fleet, paged `pageSize` at a time; cursors are page numbers. */
function fakeApi(plan: ApiPlan) {
  const devices = SERIALS.map((_, i) => fleet.device(i));
  return fakeFetch((url) => {
    if (url.pathname === '/auth/oauth2/token') {
      return {
        body: { access_token: 'hostile-run-token', token_type: 'Bearer', expires_in: 3600 },
      };
    }
    const idList = /^\/v1\/mdmServers\/([^/]+)\/relationships\/devices$/.exec(url.pathname);
    let list: ListName;
    let items: unknown[] | undefined;
    if (url.pathname === '/v1/orgDevices') [list, items] = ['devices', devices];
    else if (url.pathname === '/v1/mdmServers') [list, items] = ['servers', fleet.servers];
    else if (idList) [list, items] = ['ids', plan.ids.get(decodeURIComponent(idList[1]))];
    if (items === undefined) {
      return { status: 404, body: { errors: [{ status: '404', code: 'NOT_FOUND' }] } };
    }
    const { pageSize, mutate } = plan;
    const page = Number(url.searchParams.get('cursor') ?? '0');
    const last = (page + 1) * pageSize >= items.length;
    const next = last ? undefined : String(page + 1);
    const envelope: Envelope = {
      data: items.slice(page * pageSize, (page + 1) * pageSize),
      links: {
        self: url.href,
        ...(next ? { next: `${url.origin}${url.pathname}?cursor=${next}` } : {}),
      },
      meta: {
        paging: { limit: pageSize, total: items.length, ...(next ? { nextCursor: next } : {}) },
      },
    };
    const chosen =
      mutate &&
      mutate.list === list! &&
      mutate.page === page &&
      (list! !== 'ids' || mutate.server === decodeURIComponent(idList![1]));
    return { body: chosen ? mutate.apply(envelope, last) : envelope };
  });
}

/** One whole run over `plan`. */
function runOver(plan: ApiPlan): Promise<CollectedGraph> {
  return collectWithEnv({
    env: ENV,
    collector: { http: { fetch: fakeApi(plan), baseBackoffMs: 1, maxBackoffMs: 2 } },
  });
}

const STEP_OF: Record<ListName, string> = {
  devices: 'fetch-devices',
  servers: 'fetch-mdm-servers',
  ids: 'build-mdm-server-device-relationships',
};

describe('hostile id lists and list envelopes through a whole run', () => {
  let baseline: CollectedGraph;
  let skips: jest.SpyInstance;
  let reports: jest.SpyInstance;

  beforeAll(async () => {
    baseline = await runOver({ ids: fleetIds(), pageSize: 4 });
  });
  beforeEach(() => {
    skips = jest.spyOn(SkipTally.prototype, 'add');
    reports = jest.spyOn(SkipTally.prototype, 'report');
  });
  afterEach(() => jest.restoreAllMocks());

  it('has a complete baseline over several pages of every list', () => {
    expectComplete(baseline);
    expect(ofType(baseline.entities, Types.DEVICE)).toHaveLength(SERIALS.length);
    expect(ofType(baseline.entities, Types.MDM_SERVER)).toHaveLength(SERVER_IDS.length);
    expect(ofType(baseline.relationships, Types.SERVER_HAS_DEVICE).length).toBeGreaterThan(10);
  });

  it('device id lists with null, numbers, objects, duplicates and unknown ids: each id a relationship or a counted skip', async () => {
    const known = fc.constantFrom(...SERIALS);
    const idItem = fc.oneof(
      { weight: 6, arbitrary: known.map((id) => ({ type: 'orgDevices', id })) },
      // The same few ids again and again: duplicates within a list and across servers.
      {
        weight: 2,
        arbitrary: fc
          .constantFrom(...SERIALS.slice(0, 2))
          .map((id) => ({ type: 'orgDevices', id })),
      },
      // Padded with spaces: still the device's id.
      { weight: 1, arbitrary: known.map((id) => ({ type: 'orgDevices', id: ` ${id} ` })) },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom('ZZZZ00000000', 'C02UNKNOWN01', 'lowercase-serial', '💥', 'A'.repeat(70))
          .map((id) => ({ type: 'orgDevices', id })),
      },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom<unknown>(null, 7, {}, [], true, '', '   ', { id: SERIALS[0] })
          .map((id) => ({ type: 'orgDevices', id })),
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 7, SERIALS[0], [], true, {}) },
    );
    const seen = { linked: 0, skipped: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(idItem, { maxLength: 12 }), {
          minLength: SERVER_IDS.length,
          maxLength: SERVER_IDS.length,
        }),
        fc.integer({ min: 1, max: 5 }),
        async (lists, pageSize) => {
          skips.mockClear();
          reports.mockClear();
          const ids = new Map(SERVER_IDS.map((id, i) => [id, lists[i]]));
          const graph = await runOver({ ids, pageSize });

          // What Apple's lists say, read independently: an id is a non-empty string (spaces
          // around it do not count) that names a listed device, once per server.
          const serials = new Set(SERIALS);
          const expected = new Set<string>();
          const serversOf = new Map<string, Set<string>>();
          let items = 0;
          SERVER_IDS.forEach((serverId, i) => {
            for (const item of lists[i]) {
              items += 1;
              const id = (item as { id?: unknown } | null)?.id;
              const serial = typeof id === 'string' ? id.trim() : '';
              if (serials.has(serial)) {
                expected.add(`${Types.MDM_SERVER}:${serverId} -> ${Types.DEVICE}:${serial}`);
                serversOf.set(serial, (serversOf.get(serial) ?? new Set()).add(serverId));
              }
            }
          });
          // A device in several servers' lists is reported once, however many list it.
          const several = [...serversOf]
            .filter(([, servers]) => servers.size > 1)
            .map(([serial]) => serial);

          expectComplete(graph);
          const links = ofType(graph.relationships, Types.SERVER_HAS_DEVICE);
          const got = links.map((r) => `${String(r._fromEntityKey)} -> ${String(r._toEntityKey)}`);
          expect(new Set(got).size).toBe(got.length);
          expect([...got].sort()).toEqual([...expected].sort());
          // Every id that did not become a relationship is counted in a warning; every device
          // in more than one server's list, in a warning of its own.
          const calls = skips.mock.calls as Array<[string, string?]>;
          const linkedTwice = calls.filter(([reason]) => reason === SEVERAL_SERVERS_REASON);
          expect(calls.length - linkedTwice.length).toBe(items - links.length);
          expect(linkedTwice.map(([, example]) => example?.split(' ')[0]).sort()).toEqual(
            several.sort(),
          );
          const repeats = calls.filter(([reason]) => reason === REPEATED_ID_REASON).length;
          const left = calls.length - linkedTwice.length - repeats;
          expect(warned(reports).includes('repeated device ids')).toBe(repeats > 0);
          expect(warned(reports).includes('MDM server assignments')).toBe(left > 0);
          expect(warned(reports).includes('devices / linked to more than one MDM server')).toBe(
            linkedTwice.length > 0,
          );
          // Everything else is exactly the fault-free graph; nothing dangles.
          const others = (g: CollectedGraph) => ({
            entities: g.entities,
            relationships: g.relationships.filter((r) => r._type !== Types.SERVER_HAS_DEVICE),
          });
          expect(graphDifferences(others(baseline), others(graph))).toEqual([]);
          expectHonest(graph, {
            ...baseline,
            relationships: [...others(baseline).relationships, ...links],
          });
          seen.linked += links.length;
          seen.skipped += items - links.length;
        },
      ),
      { seed: 20261124, numRuns: 25 },
    );
    expect(seen.linked).toBeGreaterThan(50);
    expect(seen.skipped).toBeGreaterThan(50);
  });

  /**
   * Envelope rewrites and what each must lead to. A next-page marker that is
   * there but cannot be read must fail the step; one that can be read (even
   * from `links.next` on a foreign host) must lead to the complete list; odd
   * `total` and `meta` are ignored. A page with no marker at all is the last
   * page by definition (Apple's own way to end a list), so it is not generated.
   */
  const unreadable = () => 'fail' as const;
  const readable = () => 'complete' as const;
  const MUTATIONS: Array<{
    name: string;
    outcome: (last: boolean) => 'complete' | 'fail';
    apply: (e: Envelope, last: boolean) => unknown;
  }> = [
    ...[null, {}, 'devices', 7, true, { 0: {} }].map((data) => ({
      name: `data ${JSON.stringify(data)}`,
      outcome: unreadable,
      apply: (e: Envelope) => ({ ...e, data }),
    })),
    ...[7, {}, [], true, ['1']].map((cursor) => ({
      name: `nextCursor ${JSON.stringify(cursor)}`,
      outcome: unreadable,
      apply: (e: Envelope) => ({
        ...e,
        meta: { paging: { ...e.meta.paging, nextCursor: cursor } },
      }),
    })),
    ...[undefined, null, ''].map((cursor) => ({
      name: `nextCursor ${JSON.stringify(cursor)}, the cursor only in links.next`,
      outcome: readable,
      apply: (e: Envelope) => ({
        ...e,
        meta: { paging: { ...e.meta.paging, nextCursor: cursor } },
      }),
    })),
    ...[7, {}, true, 'next', '?page=2', 'http://[', `${ORIGIN}/v1/orgDevices`].map((next) => ({
      name: `links.next ${JSON.stringify(next)} without nextCursor`,
      outcome: unreadable,
      apply: (e: Envelope) => ({
        ...e,
        links: { ...e.links, next },
        meta: { paging: { ...e.meta.paging, nextCursor: undefined } },
      }),
    })),
    {
      name: 'links.next on a foreign host, without nextCursor',
      outcome: readable,
      apply: (e: Envelope) => ({
        ...e,
        links: {
          ...e.links,
          ...(e.links.next
            ? { next: String(e.links.next).replace(ORIGIN, 'https://api-business.apple') }
            : {}),
        },
        meta: { paging: { ...e.meta.paging, nextCursor: undefined } },
      }),
    },
    ...[7, 'junk', { href: 'x' }].map((next) => ({
      name: `links.next ${JSON.stringify(next)} beside nextCursor`,
      // nextCursor is read first; on the last page there is none, and the junk is all there is.
      outcome: (last: boolean) => (last ? 'fail' : 'complete') as 'complete' | 'fail',
      apply: (e: Envelope) => ({ ...e, links: { ...e.links, next } }),
    })),
    ...['many', -1, null, {}, 1e308, 0, '12'].map((total) => ({
      name: `total ${JSON.stringify(total)}`,
      outcome: readable,
      apply: (e: Envelope) => ({ ...e, meta: { paging: { ...e.meta.paging, total } } }),
    })),
    ...[null, 'x', { paging: null }, { paging: 5 }].map((meta) => ({
      name: `meta ${JSON.stringify(meta)} (the cursor still in links.next)`,
      outcome: readable,
      apply: (e: Envelope) => ({ ...e, meta }),
    })),
    ...[null, 'x', []].map((links) => ({
      name: `links ${JSON.stringify(links)} (the cursor still in nextCursor)`,
      outcome: readable,
      apply: (e: Envelope) => ({ ...e, links }),
    })),
  ];

  it('odd list envelopes: the complete graph, or a failed step with partial datasets; never a short list as success', async () => {
    // Every rewrite on every list, on its first page and on its last, at page sizes of 2 to 5.
    const outcomes = { complete: 0, fail: 0 };
    let run = 0;
    for (const mutation of MUTATIONS) {
      for (const list of ['devices', 'servers', 'ids'] as const) {
        for (const where of ['first', 'last'] as const) {
          run += 1;
          const pageSize = 2 + (run % 4);
          const ids = fleetIds();
          // An id list with devices (the DELETED server's is empty); a different one each time.
          const withDevices = SERVER_IDS.filter((id) => (ids.get(id) ?? []).length > 0);
          const server = withDevices[run % withDevices.length];
          const length =
            list === 'devices'
              ? SERIALS.length
              : list === 'servers'
                ? SERVER_IDS.length
                : (ids.get(server) ?? []).length;
          const pages = Math.ceil(length / pageSize);
          const page = where === 'first' ? 0 : pages - 1;
          const outcome = mutation.outcome(page === pages - 1);
          const graph = await runOver({
            ids,
            pageSize,
            mutate: { list, server, page, apply: mutation.apply },
          });

          const label = { mutation: mutation.name, list, page, of: pages };
          try {
            expectHonest(graph, baseline);
            if (outcome === 'complete') {
              expectComplete(graph);
            } else {
              expect(stepStatuses(graph).filter((s) => s.status === 'failure')).toEqual([
                { id: STEP_OF[list], status: 'failure' },
              ]);
              expect(partialTypes(graph)).toContain(
                list === 'devices'
                  ? Types.DEVICE
                  : list === 'servers'
                    ? Types.MDM_SERVER
                    : Types.SERVER_HAS_DEVICE,
              );
            }
          } catch (err) {
            throw new Error(`${JSON.stringify(label)}: ${(err as Error).message}`);
          }
          outcomes[outcome] += 1;
        }
      }
    }
    expect(outcomes.complete).toBeGreaterThan(60);
    expect(outcomes.fail).toBeGreaterThan(60);
  });
});
