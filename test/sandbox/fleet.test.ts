import fc from 'fast-check';

import { CursorCodec } from './cursor';
import { clampDevices, clampServers, GeneratedFleet, iso } from './fleet';
import { startSandbox } from './index';
import { apiGet, getToken } from './helpers';

const BASE = 'http://127.0.0.1:1';

describe('fleet', () => {
  const fleet = new GeneratedFleet({ seed: 3, devices: 3000, servers: 6, baseUrl: BASE });
  const devices = [...Array(fleet.deviceCount).keys()].map((i) => fleet.device(i));

  it('is deterministic from seed and index', () => {
    const again = new GeneratedFleet({ seed: 3, devices: 3000, servers: 6, baseUrl: BASE });
    expect(again.device(1234)).toEqual(fleet.device(1234));
    expect(again.servers).toEqual(fleet.servers);
    const other = new GeneratedFleet({ seed: 4, devices: 3000, servers: 6, baseUrl: BASE });
    expect(other.device(1234).id).not.toBe(fleet.device(1234).id);
    // The size changes how many devices exist, not what a given index is.
    expect(
      new GeneratedFleet({ seed: 3, devices: 5000, servers: 6, baseUrl: BASE }).device(17),
    ).toEqual(fleet.device(17));
  });

  it('gives unique Apple-like serials that decode back to their index', () => {
    const serials = devices.map((d) => d.id);
    expect(new Set(serials).size).toBe(serials.length);
    serials.forEach((serial, index) => {
      expect(serial).toMatch(/^[0-9A-Z]{10}([0-9A-Z]{2})?$/);
      expect(fleet.deviceIndexBySerial(serial)).toBe(index);
    });
    expect(serials.some((s) => s.length === 12)).toBe(true);
    expect(fleet.deviceIndexBySerial('NOPE')).toBeUndefined();
    expect(
      fleet.deviceIndexBySerial(serials[5].slice(0, -1) + (serials[5].endsWith('0') ? '1' : '0')),
    ).not.toBe(5);
  });

  it('covers the shapes collectors meet in the wild', () => {
    const attrs = devices.map((d) => d.attributes);
    const families = new Set(attrs.map((a) => a.productFamily));
    expect([...families].sort()).toEqual(['AppleTV', 'Mac', 'Vision', 'Watch', 'iPad', 'iPhone']);
    expect(new Set(attrs.map((a) => a.purchaseSourceType))).toEqual(
      new Set(['APPLE', 'RESELLER', 'MANUALLY_ADDED']),
    );
    expect(attrs.some((a) => a.purchaseSourceUid !== undefined)).toBe(true);
    expect(attrs.some((a) => a.purchaseSourceId !== undefined)).toBe(true);
    expect(attrs.some((a) => Array.isArray(a.wifiMacAddress))).toBe(true);
    expect(attrs.some((a) => Array.isArray(a.bluetoothMacAddress))).toBe(true);
    expect(attrs.some((a) => Array.isArray(a.ethernetMacAddress))).toBe(true);
    expect(attrs.some((a) => a.color === '')).toBe(true);
    expect(attrs.every((a) => a.color === a.color.toUpperCase())).toBe(true);
    expect(attrs.some((a) => a.addedToOrgDateTime.includes('.'))).toBe(true);
    expect(attrs.some((a) => !a.addedToOrgDateTime.includes('.'))).toBe(true);
    expect(
      attrs.some((a) => typeof a.mdmMigrationStatus === 'string' && a.mdmMigrationDeadlineDateTime),
    ).toBe(true);
    expect(attrs.some((a) => a.isMdmMigrationCapable)).toBe(true);
    for (const a of attrs) {
      expect(Date.parse(a.updatedDateTime)).toBeGreaterThanOrEqual(
        Date.parse(a.addedToOrgDateTime),
      );
      if (a.eid !== undefined) {
        expect(a.imei?.length).toBeGreaterThan(0);
        expect(a.imei?.every((imei) => /^\d{15}$/.test(imei))).toBe(true);
        expect(a.meid?.[0]).toMatch(/^\d{14}$/);
        expect(['iPhone', 'iPad', 'Watch']).toContain(a.productFamily);
      }
      if (a.productFamily === 'iPhone') expect(a.eid).toMatch(/^\d{32}$/);
      expect(a.productType).toMatch(/^[A-Za-z]+\d+,\d+$/);
      expect(a.deviceCapacity).toMatch(/^\d+(GB|TB)$/);
    }
    const released = devices.filter((_, i) => fleet.isReleased(i));
    expect(released.length / devices.length).toBeGreaterThan(0.02);
    expect(
      released.every(
        (d) => d.attributes.releasedFromOrgDateTime && d.attributes.status === 'UNASSIGNED',
      ),
    ).toBe(true);
    const unassigned = devices.filter((d) => d.attributes.status === 'UNASSIGNED').length;
    expect(unassigned / devices.length).toBeGreaterThan(0.1);

    const coverage = devices.map((_, i) => fleet.appleCareCoverage(i));
    expect(coverage.some((c) => c.length === 0)).toBe(true);
    expect(coverage.some((c) => c.length >= 2)).toBe(true);
    const payments = new Set(coverage.flat().map((c) => c.attributes.paymentType));
    expect(payments).toEqual(
      new Set(['NONE', 'PAID_UP_FRONT', 'SUBSCRIPTION', 'ABE_SUBSCRIPTION']),
    );
    expect(coverage.flat().some((c) => c.attributes.endDateTime === null)).toBe(true);
    expect(
      coverage.flat().some((c) => c.attributes.isCanceled && c.attributes.contractCancelDateTime),
    ).toBe(true);
    const locks = devices.map((_, i) => fleet.activationLockStatus(i).lockType);
    expect(new Set(locks)).toEqual(new Set(['MDM', 'USER', 'NONE']));
  });

  it("lists each server's devices in ascending index order, exactly those assigned to it", () => {
    // Brute force over the fleet as the oracle for the per-server index.
    const expected = new Map<string, number[]>(fleet.servers.map((server) => [server.id, []]));
    for (let index = 0; index < fleet.deviceCount; index++) {
      const serverId = fleet.serverIdOfDevice(index);
      if (serverId !== null) expected.get(serverId)?.push(index);
    }
    for (const server of fleet.servers) {
      const listed = [...fleet.serverDeviceIndices(server.id)];
      expect(listed).toEqual(expected.get(server.id));
      expect(listed.length).toBe(server.attributes.deviceCount);
    }
    expect([...fleet.serverDeviceIndices('0123456789ABCDEF0123456789ABCDEF')]).toEqual([]);
    // Another fleet of the same seed and size, asked in another order, agrees.
    const twin = new GeneratedFleet({ seed: 3, devices: 3000, servers: 6, baseUrl: BASE });
    for (const server of [...twin.servers].reverse()) {
      expect([...twin.serverDeviceIndices(server.id)]).toEqual(expected.get(server.id));
    }
  });

  it('gives deterministic extra attributes', () => {
    const again = new GeneratedFleet({ seed: 3, devices: 3000, servers: 6, baseUrl: BASE });
    expect(again.extraDeviceAttributes(42)).toEqual(fleet.extraDeviceAttributes(42));
    expect(again.extraServerAttributes(1)).toEqual(fleet.extraServerAttributes(1));
  });

  it('clamps the device count to what 20-bit serials can number', () => {
    expect(clampDevices(1_000_000)).toBe(1_000_000);
    expect(clampDevices(1_000_001)).toBe(1_000_000);
    expect(clampDevices(5_000_000)).toBe(1_000_000);
    expect(clampDevices(0)).toBe(1);
    expect(clampDevices(12.7)).toBe(12);
    expect(clampDevices(Number.NaN)).toBe(2000);
    expect(clampServers(5000)).toBe(1000);
  });

  it('clamps the server count so every type and status fits, and spreads devices evenly', () => {
    expect(
      new GeneratedFleet({ seed: 1, devices: 10, servers: 1, baseUrl: BASE }).servers,
    ).toHaveLength(4);
    const wide = new GeneratedFleet({ seed: 1, devices: 100_000, servers: 20, baseUrl: BASE });
    const counts = wide.servers.map((s) => s.attributes.deviceCount).filter((c) => c > 0);
    expect(counts).toHaveLength(19);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    for (const count of counts) expect(Math.abs(count - mean) / mean).toBeLessThan(0.1);
  });

  it('serves a 1,000,000-device fleet without materializing it, including its last page', async () => {
    const before = process.memoryUsage().heapUsed;
    const sandbox = await startSandbox({ devices: 1_000_000, seed: 5 });
    try {
      const token = await getToken(sandbox);
      const last = sandbox.fleet.device(999_999);
      expect((await apiGet(sandbox, token, `/v1/orgDevices/${last.id}`)).json.data.id).toBe(
        last.id,
      );
      // Jump straight to the last page with a cursor the sandbox itself would have issued.
      const cursor = new CursorCodec(5).encode({
        context: 'orgDevices.list:all',
        position: 999_000,
        emitted: 999_000,
        page: 1000,
      });
      const page = await apiGet(
        sandbox,
        token,
        `/v1/orgDevices?limit=1000&fields[orgDevices]=serialNumber&cursor=${cursor}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.data).toHaveLength(1000);
      expect(page.json.data[999].id).toBe(last.id);
      expect(page.json.meta.paging.nextCursor).toBeUndefined();
      expect(page.json.meta.paging.total).toBe(1_000_000);
      const server = sandbox.fleet.servers[0];
      const ids = await apiGet(
        sandbox,
        token,
        `/v1/mdmServers/${server.id}/relationships/devices?limit=1000`,
      );
      expect(ids.json.data).toHaveLength(1000);
      expect(ids.json.meta.paging.total).toBe(server.attributes.deviceCount);
      const empty = sandbox.fleet.servers.find((s) => s.attributes.deviceCount === 0);
      const none = await apiGet(
        sandbox,
        token,
        `/v1/mdmServers/${empty?.id}/relationships/devices`,
      );
      expect(none.json.data).toEqual([]);
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(150 * 1024 * 1024);
    } finally {
      await sandbox.stop();
    }
  });
});

describe('iso', () => {
  it('formats every time the fleet uses exactly as Date.toISOString does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2099, 11, 31, 23, 59, 59, 999) }),
        fc.boolean(),
        (time, withMillis) => {
          const text = new Date(time).toISOString();
          expect(iso(time, withMillis)).toBe(withMillis ? text : `${text.slice(0, 19)}Z`);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
