import fc from 'fast-check';
import { createIntegrationEntity, Entity } from '@jupiterone/integration-sdk-core';

import { ORG_DEVICE_ATTRIBUTES } from '../../abm/types';
import { Entities } from '../constants';
import { convertOrgDevice, deviceStatus } from './converter';
import { asStored } from '../../../test/helpers/graph';

const device = {
  type: 'orgDevices',
  id: 'C02XL0GFJGH5',
  attributes: {
    serialNumber: 'C02XL0GFJGH5',
    addedToOrgDateTime: '2024-03-01T10:00:00Z',
    updatedDateTime: '2024-05-02T11:12:13.456Z',
    deviceModel: 'MacBook Pro 14"',
    productFamily: 'Mac',
    productType: 'MacBookPro18,3',
    deviceCapacity: '512GB',
    partNumber: 'Z15G',
    orderNumber: 'ORD-1',
    orderDateTime: '2024-02-20T00:00:00Z',
    color: 'SPACE GRAY',
    status: 'ASSIGNED',
    imei: [],
    meid: [],
    eid: null,
    wifiMacAddress: 'AA:BB:CC:DD:EE:01',
    bluetoothMacAddress: ['AA:BB:CC:DD:EE:02'],
    ethernetMacAddress: ['AA:BB:CC:DD:EE:03'],
    purchaseSourceType: 'RESELLER',
    purchaseSourceUid: '1234567',
    isMdmMigrationCapable: true,
    mdmMigrationStatus: 'REQUESTED',
    mdmMigrationDeadlineDateTime: '2025-01-01T00:00:00Z',
    batteryHealth: 'GOOD',
    warrantyEndDateTime: '2027-01-01T00:00:00Z',
    bad_name: 'dropped',
    nested: { dropped: true },
  },
  relationships: {},
  links: { self: 'https://api-business.apple.com/v1/orgDevices/C02XL0GFJGH5' },
};

function entityOf(resource: unknown) {
  const result = convertOrgDevice(resource);
  if (!('entity' in result)) throw new Error(`skipped: ${result.skipped}`);
  return result.entity;
}

describe('convertOrgDevice', () => {
  it('maps every documented attribute to the JupiterOne property names', () => {
    const entity = entityOf(device);
    expect(entity).toMatchObject({
      _key: 'apple_business_manager_org_device:C02XL0GFJGH5',
      _type: 'apple_business_manager_org_device',
      _class: ['Device'],
      id: 'C02XL0GFJGH5',
      name: 'C02XL0GFJGH5',
      displayName: 'MacBook Pro 14" (C02XL0GFJGH5)',
      category: 'endpoint',
      make: 'Apple',
      model: 'MacBook Pro 14"',
      serial: 'C02XL0GFJGH5',
      deviceId: 'C02XL0GFJGH5',
      lastSeenOn: null,
      hardwareModel: 'MacBookPro18,3',
      platform: 'darwin',
      status: 'assigned',
      assignmentStatus: 'ASSIGNED',
      deviceFamily: 'Mac',
      productType: 'MacBookPro18,3',
      deviceCapacity: '512GB',
      color: 'SPACE GRAY',
      partNumber: 'Z15G',
      orderNumber: 'ORD-1',
      orderedOn: Date.parse('2024-02-20T00:00:00Z'),
      addedToOrgOn: Date.parse('2024-03-01T10:00:00Z'),
      updatedOn: Date.parse('2024-05-02T11:12:13.456Z'),
      purchaseSourceType: 'RESELLER',
      purchaseSourceId: '1234567',
      wifiMacAddress: 'AA:BB:CC:DD:EE:01',
      bluetoothMacAddress: 'AA:BB:CC:DD:EE:02',
      ethernetMacAddress: ['AA:BB:CC:DD:EE:03'],
      macAddress: ['aa:bb:cc:dd:ee:01', 'aa:bb:cc:dd:ee:03'],
      isMdmMigrationCapable: true,
      mdmMigrationStatus: 'REQUESTED',
      mdmMigrationDeadlineOn: Date.parse('2025-01-01T00:00:00Z'),
      batteryHealth: 'GOOD',
      warrantyEndOn: Date.parse('2027-01-01T00:00:00Z'),
    });
    expect(asStored(entity)).not.toHaveProperty('imei');
    expect(asStored(entity)).not.toHaveProperty('eid');
    expect(asStored(entity)).not.toHaveProperty('releasedFromOrgOn');
    expect(asStored(entity)).not.toHaveProperty('bad_name');
    expect(asStored(entity)).not.toHaveProperty('nested');
    expect(entity._rawData?.[0].rawData).toEqual(device);
  });

  it('fits the strict schema, which refuses any property it does not list', () => {
    const entity = entityOf(device);
    const { batteryHealth: _b, warrantyEndOn: _w, ...documented } = entity;
    expect([documented]).toMatchGraphObjectSchema(Entities.DEVICE);
    expect(() =>
      expect([{ ...documented, serialNumber: 'renamed' }]).toMatchGraphObjectSchema(
        Entities.DEVICE,
      ),
    ).toThrow(/additional/i);
  });

  it('lists an address given as both Wi-Fi and Ethernet once in macAddress', () => {
    const entity = entityOf({
      ...device,
      attributes: {
        ...device.attributes,
        wifiMacAddress: 'AA:BB:CC:DD:EE:01',
        ethernetMacAddress: ['aa:bb:cc:dd:ee:01', 'AA:BB:CC:DD:EE:03'],
      },
    });
    expect(entity.macAddress).toEqual(['aa:bb:cc:dd:ee:01', 'aa:bb:cc:dd:ee:03']);
  });

  it('takes the release from the single-device answer, which alone carries it', () => {
    const result = convertOrgDevice(device, {
      ...device,
      attributes: { ...device.attributes, releasedFromOrgDateTime: '2025-06-01T00:00:00Z' },
    });
    if (!('entity' in result)) throw new Error(result.skipped);
    expect(result.entity).toMatchObject({
      status: 'decommissioned',
      active: false,
      releasedFromOrgOn: Date.parse('2025-06-01T00:00:00Z'),
    });
  });

  it('carries 50 attributes Apple added at most, and keeps the record', () => {
    const added = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`added${i}`, `v${i}`]));
    const entity = entityOf({ ...device, attributes: { ...device.attributes, ...added } });
    const carried = Object.keys(entity).filter((name) => /^added\d+$/.test(name));
    expect(carried).toHaveLength(50 - 2); // batteryHealth and warrantyEndOn come first
    expect(entity._key).toContain('C02XL0GFJGH5');
  });

  it('marks released devices decommissioned and inactive', () => {
    const entity = entityOf({
      ...device,
      attributes: { ...device.attributes, releasedFromOrgDateTime: '2025-06-01T00:00:00Z' },
    });
    expect(entity).toMatchObject({
      status: 'decommissioned',
      active: false,
      releasedFromOrgOn: Date.parse('2025-06-01T00:00:00Z'),
    });
  });

  it('maps Apple statuses onto the Device class enum', () => {
    expect(deviceStatus('ASSIGNED', undefined)).toBe('assigned');
    expect(deviceStatus('UNASSIGNED', undefined)).toBe('ready');
    expect(deviceStatus('SOMETHING_NEW', undefined)).toBe('other');
    expect(deviceStatus(undefined, undefined)).toBe('unknown');
  });

  it('keeps required Device keys present as null when unknown', () => {
    const entity = entityOf({ type: 'orgDevices', id: 'F9FXXXXXXX1' });
    expect(entity).toMatchObject({ category: null, model: null, serial: 'F9FXXXXXXX1' });
    expect(asStored(entity)).not.toHaveProperty('platform');
  });

  it.each(['Toaster', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])(
    'gives the unknown product family %s no category and no platform',
    (productFamily) => {
      const entity = entityOf({ id: 'F9FXXXXXXX1', attributes: { productFamily } });
      expect(entity).toMatchObject({ category: null, deviceFamily: productFamily });
      expect(asStored(entity)).not.toHaveProperty('platform');
    },
  );

  it.each([
    ['not an object', 'hello', /not an object/],
    ['no serial', { type: 'orgDevices', attributes: {} }, /no serial number/],
    ['a serial with spaces', { id: 'ABC DEF' }, /printable ASCII/],
    ['a serial too long', { id: 'X'.repeat(65) }, /printable ASCII/],
  ])('skips a record that is %s, with a reason', (_, resource, reason) => {
    const result = convertOrgDevice(resource);
    expect(result).toEqual({ skipped: expect.stringMatching(reason) });
  });

  it('ignores values of the wrong type and unparseable times', () => {
    const entity = entityOf({
      id: 'SERIAL0001',
      attributes: {
        deviceModel: 42,
        imei: 'one-imei',
        addedToOrgDateTime: '1',
        orderDateTime: 'yesterday',
        isMdmMigrationCapable: 'yes',
        color: '',
      },
    });
    expect(entity.model).toBeNull();
    expect(entity.imei).toEqual(['one-imei']);
    expect(asStored(entity)).not.toHaveProperty('addedToOrgOn');
    expect(asStored(entity)).not.toHaveProperty('orderedOn');
    expect(asStored(entity)).not.toHaveProperty('isMdmMigrationCapable');
    expect(asStored(entity)).not.toHaveProperty('color');
  });
});

/** Anything a JSON body could hold. */
const jsonValue = fc.jsonValue({ maxDepth: 2 });
const hostileString = fc.oneof(
  fc.string(),
  fc.fullUnicodeString(),
  fc.string({ minLength: 5000, maxLength: 6000 }),
);
const attributeValue = fc.oneof(
  jsonValue,
  hostileString,
  fc.constant(null),
  fc.array(hostileString, { maxLength: 4 }),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const knownNames: string[] = [...ORG_DEVICE_ATTRIBUTES];
const attributes = fc.dictionary(
  fc.oneof(
    fc.constantFrom(...knownNames),
    fc.string(),
    fc.constantFrom('fooDateTime', 'newFlag', 'tags', 'displayName'),
  ),
  attributeValue,
  { maxKeys: 30 },
);
const serial = fc.stringMatching(/^[A-Z0-9]{8,12}$/);

describe('convertOrgDevice properties', () => {
  it('turns any plausible device into a schema-valid entity keyed by its serial', () => {
    const schemaProperties = new Set(Object.keys(Entities.DEVICE.schema.properties));
    const documentedParts: Entity[] = [];
    fc.assert(
      fc.property(serial, attributes, (sn, attrs) => {
        const result = convertOrgDevice({
          type: 'orgDevices',
          id: sn,
          attributes: { ...attrs, serialNumber: sn },
        });
        // The Device schema is validated in tests, as `collect` does.
        expect('entity' in result).toBe(true);
        if ('entity' in result) {
          expect(result.entity._key).toBe(`apple_business_manager_org_device:${sn}`);
          // The SDK's entity generation has nothing to add or take away (`createEntity`).
          const regenerated = createIntegrationEntity({
            entityData: { source: {}, assign: { ...result.entity } as never },
          });
          expect(JSON.stringify(regenerated)).toBe(JSON.stringify(result.entity));
          for (const [name, value] of Object.entries(result.entity)) {
            if (name.startsWith('_')) continue;
            expect(name).not.toContain('_');
            expect(value === null || typeof value !== 'object' || Array.isArray(value)).toBe(true);
            if (typeof value === 'string') expect(value.length).toBeLessThanOrEqual(4096);
          }
          // A property the strict schema does not list must be an attribute Apple sent that
          // this converter does not know (`...DateTime` renamed `...On`): nothing is invented.
          const carried = Object.keys(result.entity).filter(
            (name) => result.entity[name] !== undefined && !schemaProperties.has(name),
          );
          for (const name of carried) {
            const source = name.endsWith('On') ? `${name.slice(0, -2)}DateTime` : name;
            const sent = [name, source].filter((n) =>
              Object.prototype.hasOwnProperty.call(attrs, n),
            );
            expect(sent.length).toBeGreaterThan(0);
            for (const n of sent) expect(knownNames).not.toContain(n);
          }
          documentedParts.push(
            Object.fromEntries(
              Object.entries(result.entity).filter(([name]) => !carried.includes(name)),
            ) as Entity,
          );
        }
      }),
      { numRuns: 300 },
    );
    // Everything else fits the project's strict schema (one check: the matcher compiles per call).
    expect(documentedParts).toMatchGraphObjectSchema(Entities.DEVICE);
  });

  it('never throws, whatever the record', () => {
    fc.assert(
      fc.property(
        fc.oneof(jsonValue, fc.record({ id: attributeValue, attributes: attributeValue })),
        (record) => {
          const result = convertOrgDevice(record);
          expect(
            'entity' in result || typeof (result as { skipped: string }).skipped === 'string',
          ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
