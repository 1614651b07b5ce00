import { Entity } from '@jupiterone/integration-sdk-core';

import { collectFromSandbox } from '../helpers/collect';
import { OrgDeviceResource, Sandbox, startSandbox } from '../sandbox';

const DEVICES = 3000;

function time(value: string | null | undefined): number | undefined {
  return value ? Date.parse(value) : undefined;
}

function single(value: string | string[] | undefined): string | string[] | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : value;
  return value;
}

/** What the graph must say about one device, read straight off the sandbox's record. */
function expectedDevice(device: OrgDeviceResource) {
  const a = device.attributes;
  return {
    _key: `apple_business_manager_org_device:${a.serialNumber}`,
    serial: a.serialNumber,
    model: a.deviceModel,
    deviceFamily: a.productFamily,
    productType: a.productType,
    deviceCapacity: a.deviceCapacity,
    partNumber: a.partNumber,
    orderNumber: a.orderNumber,
    orderedOn: time(a.orderDateTime),
    addedToOrgOn: time(a.addedToOrgDateTime),
    updatedOn: time(a.updatedDateTime),
    color: a.color || undefined,
    assignmentStatus: a.status,
    status: a.status === 'ASSIGNED' ? 'assigned' : 'ready',
    imei: a.imei?.length ? a.imei : undefined,
    meid: a.meid?.length ? a.meid : undefined,
    eid: a.eid,
    wifiMacAddress: single(a.wifiMacAddress),
    bluetoothMacAddress: single(a.bluetoothMacAddress),
    ethernetMacAddress: a.ethernetMacAddress?.length ? a.ethernetMacAddress : undefined,
    purchaseSourceType: a.purchaseSourceType,
    purchaseSourceId: a.purchaseSourceId ?? a.purchaseSourceUid,
    isMdmMigrationCapable: a.isMdmMigrationCapable,
    mdmMigrationStatus: a.mdmMigrationStatus ?? undefined,
    mdmMigrationDeadlineOn: time(a.mdmMigrationDeadlineDateTime),
  };
}

function pick(entity: Entity, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, entity[k] ?? undefined]));
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
    expect(graph.error).toBeUndefined();
    expect(graph.summary?.metadata.partialDatasets.types).toEqual([]);
    expect(graph.summary?.integrationStepResults.map((r) => r.status)).toEqual([
      'success',
      'success',
      'success',
      'success',
    ]);

    const { fleet } = sandbox;
    const byType = (type: string) => graph.entities.filter((e) => e._type === type);

    const [organization] = byType('apple_business_manager_organization');
    expect(organization).toMatchObject({
      _key: `apple_business_manager_organization:${account.clientId}`,
      orgType: kind === 'business' ? 'org' : 'edu',
    });

    const servers = byType('apple_business_manager_mdm_server');
    expect(servers.map((s) => s.id).sort()).toEqual(fleet.servers.map((s) => s.id).sort());
    for (const server of fleet.servers) {
      const entity = servers.find((s) => s.id === server.id)!;
      expect(entity).toMatchObject({
        _key: `apple_business_manager_mdm_server:${server.id}`,
        name: server.attributes.serverName,
        serverType: server.attributes.serverType,
        status: server.attributes.status,
        deviceCount: server.attributes.deviceCount,
        createdOn: Date.parse(server.attributes.createdDateTime),
      });
    }

    const devices = byType('apple_business_manager_org_device');
    expect(devices).toHaveLength(fleet.deviceCount);
    const deviceByKey = new Map(devices.map((d) => [d._key, d]));
    expect(deviceByKey.size).toBe(fleet.deviceCount);
    let released = 0;
    for (let i = 0; i < fleet.deviceCount; i++) {
      const expected = expectedDevice(fleet.device(i));
      const entity = deviceByKey.get(expected._key);
      expect(entity).toBeDefined();
      expect(pick(entity!, Object.keys(expected))).toEqual(expected);
      if (fleet.isReleased(i)) released += 1;
    }
    // Released devices are in the list only because the walk names its fields explicitly.
    expect(released).toBeGreaterThan(0);

    const relationships = (type: string) => graph.relationships.filter((r) => r._type === type);
    expect(relationships('apple_business_manager_organization_has_mdm_server')).toHaveLength(
      fleet.servers.length,
    );
    expect(relationships('apple_business_manager_organization_has_org_device')).toHaveLength(
      fleet.deviceCount,
    );
    const assignments = new Set(
      relationships('apple_business_manager_mdm_server_has_org_device').map(
        (r) => `${r._fromEntityKey}>${r._toEntityKey}`,
      ),
    );
    const expectedAssignments = new Set<string>();
    for (let i = 0; i < fleet.deviceCount; i++) {
      const serverId = fleet.serverIdOfDevice(i);
      if (serverId) {
        expectedAssignments.add(
          `apple_business_manager_mdm_server:${serverId}>apple_business_manager_org_device:${fleet.device(i).id}`,
        );
      }
    }
    expect(assignments).toEqual(expectedAssignments);
    expect(expectedAssignments.size).toBeLessThan(fleet.deviceCount); // some are unassigned

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
});
