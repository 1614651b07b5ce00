import { Entity, Relationship } from '@jupiterone/integration-sdk-core';

import { CollectedGraph, collectFromSandbox } from '../helpers/collect';
import { MdmServerResource, OrgDeviceResource, Sandbox, startSandbox } from '../sandbox';

const DEVICES = 3000;

const ORGANIZATION = 'apple_business_manager_organization';
const MDM_SERVER = 'apple_business_manager_mdm_server';
const DEVICE = 'apple_business_manager_org_device';

/** How jupiterone.md says the product family maps onto the Device class. */
const FAMILY = {
  Mac: { category: 'endpoint', platform: 'darwin' },
  iPhone: { category: 'mobile', platform: 'ios' },
  iPad: { category: 'mobile', platform: 'ios' },
  Watch: { category: 'mobile', platform: 'other' },
  Vision: { category: 'mobile', platform: 'other' },
  AppleTV: { category: 'other', platform: 'other' },
} as const;

function time(value: string | null | undefined): number | undefined {
  return value ? Date.parse(value) : undefined;
}

function single(value: string | string[] | undefined): string | string[] | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value;
  return value;
}

function list<T>(value: T[] | null | undefined): T[] | undefined {
  return value && value.length > 0 ? value : undefined;
}

function asArray(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The object as the graph stores it: JSON has no `undefined`. */
function stored<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Compares the whole entity, so a missing, renamed or wrong property fails, and so does any
 * property the expectation does not name: nothing may be invented.
 */
function expectExactly(entity: object | undefined, expected: object): void {
  expect(entity).toBeDefined();
  expect(Object.keys(entity!).sort()).toEqual(Object.keys(stored(expected)).sort());
  expect(entity).toEqual(stored(expected));
}

/** What the graph must hold for one MDM server, read straight off the sandbox's record. */
function expectedServer(server: MdmServerResource) {
  const a = server.attributes;
  return {
    _key: `${MDM_SERVER}:${server.id}`,
    _type: MDM_SERVER,
    _class: ['Service'],
    // No fieldset is sent for servers, so the raw data is the whole record as served.
    _rawData: [{ name: 'default', rawData: server }],
    id: server.id,
    name: a.serverName,
    displayName: a.serverName,
    category: ['software'],
    function: ['device-management'],
    serverType: a.serverType,
    status: a.status,
    active: a.status === 'ACTIVE',
    createdOn: time(a.createdDateTime),
    updatedOn: time(a.updatedDateTime),
    defaultProductFamilies: list(a.defaultProductFamilies),
    deviceCount: a.deviceCount,
    enableMdmDisownFlag: a.enableMdmDisownFlag,
    lastConnectedOn: time(a.lastConnectedDateTime),
    lastConnectedIp: a.lastConnectedIp ?? undefined,
  };
}

/**
 * What the graph must hold for one device, read straight off the sandbox's record. With
 * `checkReleased` (CHECK_RELEASED_DEVICES), a released device takes its release date from the
 * single-device GET, whose answer its raw data keeps after the list's record, as it came.
 */
function expectedDevice(device: OrgDeviceResource, checkReleased = false) {
  const a = device.attributes;
  const serial = a.serialNumber;
  const wifi = single(a.wifiMacAddress);
  const ethernet = list(a.ethernetMacAddress);
  const macs = [...new Set([...asArray(wifi), ...asArray(ethernet)].map((m) => m.toLowerCase()))];
  // The list never serves the single-device-only attribute; everything else comes as it is.
  const { releasedFromOrgDateTime, ...listed } = a;
  const releasedOn = checkReleased ? time(releasedFromOrgDateTime) : undefined;
  return {
    _key: `${DEVICE}:${serial}`,
    _type: DEVICE,
    _class: ['Device'],
    _rawData: [
      {
        name: 'default',
        rawData: { type: 'orgDevices', id: device.id, attributes: listed, links: device.links },
      },
      ...(releasedOn === undefined
        ? []
        : [
            {
              name: 'orgDevice',
              rawData: expect.objectContaining({
                type: 'orgDevices',
                id: device.id,
                attributes: expect.objectContaining({ releasedFromOrgDateTime }),
              }),
            },
          ]),
    ],
    id: serial,
    name: serial,
    displayName: `${a.deviceModel} (${serial})`,
    category: FAMILY[a.productFamily].category,
    make: 'Apple',
    model: a.deviceModel,
    serial,
    deviceId: serial,
    lastSeenOn: null,
    hardwareVendor: 'Apple',
    hardwareModel: a.productType,
    hardwareSerial: serial,
    platform: FAMILY[a.productFamily].platform,
    status:
      releasedOn !== undefined ? 'decommissioned' : a.status === 'ASSIGNED' ? 'assigned' : 'ready',
    assignmentStatus: a.status,
    releasedFromOrgOn: releasedOn,
    active: releasedOn === undefined ? undefined : false,
    deviceFamily: a.productFamily,
    productType: a.productType,
    deviceCapacity: a.deviceCapacity,
    color: a.color || undefined,
    partNumber: a.partNumber,
    orderNumber: a.orderNumber,
    orderedOn: time(a.orderDateTime),
    addedToOrgOn: time(a.addedToOrgDateTime),
    updatedOn: time(a.updatedDateTime),
    purchaseSourceType: a.purchaseSourceType,
    purchaseSourceId: a.purchaseSourceId ?? a.purchaseSourceUid,
    imei: list(a.imei),
    meid: list(a.meid),
    eid: a.eid,
    wifiMacAddress: wifi,
    bluetoothMacAddress: single(a.bluetoothMacAddress),
    ethernetMacAddress: ethernet,
    macAddress: macs.length > 0 ? macs : undefined,
    isMdmMigrationCapable: a.isMdmMigrationCapable,
    mdmMigrationStatus: a.mdmMigrationStatus ?? undefined,
    mdmMigrationDeadlineOn: time(a.mdmMigrationDeadlineDateTime),
  };
}

/** Every relationship of a type, checked for exactly the properties a direct HAS carries. */
function pairsOf(relationships: Relationship[], type: string): Set<string> {
  const ofType = relationships.filter((r) => r._type === type);
  for (const r of ofType) {
    expect(r).toEqual({
      _key: `${r._fromEntityKey}|has|${r._toEntityKey}`,
      _type: type,
      _class: 'HAS',
      _fromEntityKey: expect.any(String),
      _toEntityKey: expect.any(String),
      displayName: 'HAS',
    });
  }
  const pairs = new Set(ofType.map((r) => `${r._fromEntityKey}>${r._toEntityKey}`));
  expect(pairs.size).toBe(ofType.length); // none twice
  return pairs;
}

/** A run with no error, every step a success and no partial dataset. */
function expectComplete(graph: CollectedGraph): void {
  expect(graph.error).toBeUndefined();
  expect(graph.summary?.metadata.partialDatasets.types).toEqual([]);
  expect(graph.summary?.integrationStepResults.map((r) => r.status)).toEqual([
    'success',
    'success',
    'success',
    'success',
  ]);
}

/** The server→device pairs the fleet assigns, as `pairsOf` gives them. */
function expectedAssignments(fleet: Sandbox['fleet']): Set<string> {
  const pairs = new Set<string>();
  for (let i = 0; i < fleet.deviceCount; i++) {
    const serverId = fleet.serverIdOfDevice(i);
    if (serverId) pairs.add(`${MDM_SERVER}:${serverId}>${DEVICE}:${fleet.device(i).id}`);
  }
  return pairs;
}

describe.each(['business', 'school'] as const)('collection from a %s account', (kind) => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({
      devices: DEVICES,
      servers: 6,
      seed: kind === 'business' ? 7 : 8,
    });
  });
  afterAll(() => sandbox.stop());

  it('matches the sandbox fleet exactly', async () => {
    const account = kind === 'business' ? sandbox.credentials : sandbox.schoolCredentials;
    const graph = await collectFromSandbox(sandbox, { account });
    expectComplete(graph);

    const { fleet } = sandbox;
    const byType = (type: string) => graph.entities.filter((e) => e._type === type);
    expect([...new Set(graph.entities.map((e) => e._type))].sort()).toEqual(
      [DEVICE, MDM_SERVER, ORGANIZATION].sort(),
    );

    // Exactly one organization, with only what can honestly be known (no ORGANIZATION_* set).
    const organizations = byType(ORGANIZATION);
    expect(organizations).toHaveLength(1);
    const orgKey = `${ORGANIZATION}:${account.clientId}`;
    const portal =
      kind === 'business'
        ? { name: 'Apple Business Manager', url: 'https://business.apple.com' }
        : { name: 'Apple School Manager', url: 'https://school.apple.com' };
    expectExactly(organizations[0], {
      _key: orgKey,
      _type: ORGANIZATION,
      _class: ['Account'],
      _rawData: [],
      id: account.clientId,
      name: portal.name,
      displayName: portal.name,
      clientId: account.clientId,
      accountType: kind,
      orgType: kind === 'business' ? 'org' : 'edu',
      accessURL: portal.url,
      webLink: portal.url,
    });

    // Every MDM server once, with every attribute the sandbox gives and nothing more.
    const servers = byType(MDM_SERVER);
    expect(servers).toHaveLength(fleet.servers.length);
    const serverByKey = new Map(servers.map((s) => [s._key, s]));
    expect(serverByKey.size).toBe(fleet.servers.length);
    for (const server of fleet.servers) {
      const expected = expectedServer(server);
      expectExactly(serverByKey.get(expected._key), expected);
    }
    // The fleet exercises the optional attributes both ways.
    expect(servers.some((s) => s.lastConnectedOn === undefined)).toBe(true);
    expect(servers.some((s) => s.active === false)).toBe(true);

    // Every device once, with every attribute the sandbox gives and nothing more.
    const devices = byType(DEVICE);
    expect(devices).toHaveLength(fleet.deviceCount);
    const deviceByKey = new Map<string, Entity>(devices.map((d) => [d._key, d]));
    expect(deviceByKey.size).toBe(fleet.deviceCount);
    let released = 0;
    for (let i = 0; i < fleet.deviceCount; i++) {
      const expected = expectedDevice(fleet.device(i));
      expectExactly(deviceByKey.get(expected._key), expected);
      if (fleet.isReleased(i)) released += 1;
    }
    // Released devices are in the list only because the walk names its fields explicitly.
    expect(released).toBeGreaterThan(0);

    // Relationships: exactly the expected pairs of each type, and no other type.
    expect([...new Set(graph.relationships.map((r) => r._type))].sort()).toEqual(
      [
        'apple_business_manager_mdm_server_has_org_device',
        'apple_business_manager_organization_has_mdm_server',
        'apple_business_manager_organization_has_org_device',
      ].sort(),
    );
    expect(
      pairsOf(graph.relationships, 'apple_business_manager_organization_has_mdm_server'),
    ).toEqual(new Set(fleet.servers.map((s) => `${orgKey}>${MDM_SERVER}:${s.id}`)));
    const expectedOrgDevices = new Set<string>();
    for (let i = 0; i < fleet.deviceCount; i++) {
      expectedOrgDevices.add(`${orgKey}>${DEVICE}:${fleet.device(i).id}`);
    }
    expect(
      pairsOf(graph.relationships, 'apple_business_manager_organization_has_org_device'),
    ).toEqual(expectedOrgDevices);
    const assignments = expectedAssignments(fleet);
    expect(
      pairsOf(graph.relationships, 'apple_business_manager_mdm_server_has_org_device'),
    ).toEqual(assignments);
    expect(assignments.size).toBeLessThan(fleet.deviceCount); // some are unassigned

    // Request economy: one token, every page once, nothing per device.
    const stats = sandbox.stats();
    expect(stats.tokensIssued).toBe(1);
    expect(Object.keys(stats.byEndpoint).sort()).toEqual(
      ['mdmServers.devices', 'mdmServers.list', 'orgDevices.list', 'token'].sort(),
    );
    expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': Math.ceil(DEVICES / 1000) });
    for (const counts of Object.values(stats.pagesServed)) {
      for (const count of Object.values(counts)) expect(count).toBe(1);
    }
    expect(stats.maxInFlight).toBeLessThanOrEqual(4);
  });

  it('with CHECK_RELEASED_DEVICES, looks up the unassigned devices and marks the released ones', async () => {
    const account = kind === 'business' ? sandbox.credentials : sandbox.schoolCredentials;
    sandbox.resetStats();
    const graph = await collectFromSandbox(sandbox, {
      account,
      env: { CHECK_RELEASED_DEVICES: 'true' },
    });
    expect(graph.error).toBeUndefined();
    expect(graph.summary?.metadata.partialDatasets.types).toEqual([]);

    const { fleet } = sandbox;
    const devices = new Map(
      graph.entities.filter((e) => e._type === DEVICE).map((d) => [d._key, d]),
    );
    expect(devices.size).toBe(fleet.deviceCount);
    let released = 0;
    let unassigned = 0;
    for (let i = 0; i < fleet.deviceCount; i++) {
      const device = fleet.device(i);
      const expected = expectedDevice(device, true);
      expectExactly(devices.get(expected._key), expected);
      if (fleet.isReleased(i)) released += 1;
      if (device.attributes.status === 'UNASSIGNED') unassigned += 1;
    }
    expect(released).toBeGreaterThan(0);
    expect([...devices.values()].filter((d) => d.status === 'decommissioned')).toHaveLength(
      released,
    );

    // One single-device GET per device the list shows as UNASSIGNED, and no other extra request.
    const stats = sandbox.stats();
    expect(stats.byEndpoint['orgDevices.get']).toEqual({ '200': unassigned });
    expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': Math.ceil(DEVICES / 1000) });
    expect(stats.tokensIssued).toBe(1);
    expect(stats.maxInFlight).toBeLessThanOrEqual(4);
  });
});

describe('collection from a sandbox whose cursors a query must percent-encode', () => {
  // `+` and `/` in every cursor (`=` in many): a `+` sent as it is reads as a space, and the sandbox
  // refuses the cursor, as a server that decodes its query as a form would.
  it.each([
    ['in meta.paging.nextCursor', {}],
    ['only in links.next, percent-encoded there', { cursorOnlyInLinksNext: true }],
  ])('collects the whole fleet, every page once: the cursor %s', async (_, quirks) => {
    const sandbox = await startSandbox({
      devices: DEVICES,
      servers: 4,
      seed: 11,
      quirks: { cursorsWithReservedCharacters: true, ...quirks },
    });
    try {
      const graph = await collectFromSandbox(sandbox);
      expectComplete(graph);
      const { fleet } = sandbox;
      expect(graph.entities.filter((e) => e._type === DEVICE)).toHaveLength(fleet.deviceCount);
      expect(
        pairsOf(graph.relationships, 'apple_business_manager_mdm_server_has_org_device'),
      ).toEqual(expectedAssignments(fleet));
      const stats = sandbox.stats();
      expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': Math.ceil(DEVICES / 1000) });
      const served = Object.values(stats.pagesServed).flatMap((counts) => Object.entries(counts));
      // Pages after the first were asked for with cursors that kept their reserved characters.
      expect(served.some(([key]) => key.includes('+/'))).toBe(true);
      for (const [, count] of served) expect(count).toBe(1);
    } finally {
      await sandbox.stop();
    }
  });
});

describe("collection from a sandbox that answers like Apple's own examples", () => {
  // No paging total, the cursor only in links.next on a wrong host, an older API version's
  // servers, and attributes the reference does not know: each is handled by the client's unit
  // tests; here the whole collection meets them together.
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({
      devices: DEVICES,
      servers: 6,
      seed: 9,
      quirks: {
        omitPagingTotal: true,
        cursorOnlyInLinksNext: true,
        legacyServerAttributes: true,
        extraAttributes: true,
      },
    });
  });
  afterAll(() => sandbox.stop());

  it('collects the whole fleet, every page once', async () => {
    const graph = await collectFromSandbox(sandbox);
    expectComplete(graph);
    const { fleet } = sandbox;
    expect(graph.entities.filter((e) => e._type === DEVICE)).toHaveLength(fleet.deviceCount);
    expect(graph.entities.filter((e) => e._type === MDM_SERVER)).toHaveLength(fleet.servers.length);
    expect(
      pairsOf(graph.relationships, 'apple_business_manager_mdm_server_has_org_device'),
    ).toEqual(expectedAssignments(fleet));
    const stats = sandbox.stats();
    expect(stats.byEndpoint['orgDevices.list']).toEqual({ '200': Math.ceil(DEVICES / 1000) });
    for (const counts of Object.values(stats.pagesServed)) {
      for (const count of Object.values(counts)) expect(count).toBe(1);
    }
  });
});
