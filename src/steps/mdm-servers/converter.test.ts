import fc from 'fast-check';

import { Entity } from '@jupiterone/integration-sdk-core';

import { Entities, EntitySchemas } from '../constants';
import { convertMdmServer } from './converter';
import { asStored } from '../../../test/helpers/graph';

const server = {
  type: 'mdmServers',
  id: '1F97349736CF4614A94F624E705841AD',
  attributes: {
    serverName: 'Jamf Pro',
    serverType: 'MDM',
    createdDateTime: '2023-01-01T00:00:00Z',
    updatedDateTime: '2024-01-01T00:00:00.000Z',
    status: 'ACTIVE',
    defaultProductFamilies: ['MAC', 'IPHONE'],
    deviceCount: 12,
    enableMdmDisownFlag: false,
    lastConnectedDateTime: '2024-06-01T00:00:00Z',
    lastConnectedIp: '203.0.113.7',
  },
};

describe('convertMdmServer', () => {
  it('maps every attribute', () => {
    const result = convertMdmServer(server);
    expect(result).toEqual({ entity: expect.any(Object) });
    if (!('entity' in result)) return;
    expect(result.entity).toMatchObject({
      _key: 'apple_business_manager_mdm_server:1F97349736CF4614A94F624E705841AD',
      _type: 'apple_business_manager_mdm_server',
      _class: ['Service'],
      id: '1F97349736CF4614A94F624E705841AD',
      name: 'Jamf Pro',
      displayName: 'Jamf Pro',
      category: ['software'],
      function: ['device-management'],
      serverType: 'MDM',
      status: 'ACTIVE',
      active: true,
      createdOn: Date.parse('2023-01-01T00:00:00Z'),
      updatedOn: Date.parse('2024-01-01T00:00:00Z'),
      defaultProductFamilies: ['MAC', 'IPHONE'],
      deviceCount: 12,
      enableMdmDisownFlag: false,
      lastConnectedOn: Date.parse('2024-06-01T00:00:00Z'),
      lastConnectedIp: '203.0.113.7',
    });
  });

  it('marks a deleted server inactive and tolerates an older API without the newer attributes', () => {
    const result = convertMdmServer({
      id: 'ABCDEF0123456789ABCDEF0123456789',
      attributes: { serverName: null, status: 'DELETED' },
    });
    expect(result).toEqual({
      entity: expect.objectContaining({ name: 'ABCDEF0123456789ABCDEF0123456789', active: false }),
    });
  });

  it.each(['.', '..', '...'])('skips a server whose id is %j, which no URL can address', (id) => {
    expect(convertMdmServer({ type: 'mdmServers', id, attributes: { serverName: 'x' } })).toEqual({
      skipped: 'the MDM server id is only dots, which no URL can address',
    });
  });

  it('never throws, whatever the record', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (record) => {
        const result = convertMdmServer(record);
        expect('entity' in result || 'skipped' in result).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** The `mdmServers` attributes abm-api.md documents, older and newer API versions together. */
const SERVER_ATTRIBUTES = [
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
];

const isoTime = fc
  .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
  .chain((d) => fc.constantFrom(d.toISOString(), d.toISOString().replace(/\.\d{3}Z$/, 'Z')));
/** Anything a JSON body could hold, including the wrong type for an attribute. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.fullUnicodeString(),
  fc.string({ minLength: 5000, maxLength: 6000 }),
);
/** Each documented attribute with a value of the documented shape, null, or anything at all. */
const plausibleValue: Record<string, fc.Arbitrary<unknown>> = {
  serverName: fc.oneof(fc.string(), fc.fullUnicodeString({ maxLength: 80 })),
  serverType: fc.oneof(fc.constantFrom('MDM', 'APPLE_CONFIGURATOR', 'APPLE_MDM'), fc.string()),
  createdDateTime: isoTime,
  updatedDateTime: isoTime,
  status: fc.oneof(fc.constantFrom('ACTIVE', 'INACTIVE', 'DELETED'), fc.string()),
  defaultProductFamilies: fc.array(fc.constantFrom('IPHONE', 'IPAD', 'MAC', 'APPLETV', ''), {
    maxLength: 5,
  }),
  deviceCount: fc.oneof(fc.nat(), fc.double()),
  enableMdmDisownFlag: fc.boolean(),
  lastConnectedDateTime: isoTime,
  lastConnectedIp: fc.oneof(fc.ipV4(), fc.ipV6()),
};
const documentedAttributes = fc.record(
  Object.fromEntries(
    SERVER_ATTRIBUTES.map((name) => [
      name,
      fc.oneof(
        { weight: 6, arbitrary: plausibleValue[name] },
        { weight: 1, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: anyValue },
      ),
    ]),
  ),
  { requiredKeys: [] },
);
const serverId = fc.stringMatching(/^[0-9A-F]{32}$/);

function entityOf(resource: unknown): Entity {
  const result = convertMdmServer(resource);
  if (!('entity' in result)) throw new Error(`skipped: ${result.skipped}`);
  return result.entity;
}

/** Property names as the graph stores them (JSON drops the SDK's `createdOn: undefined`). */
function storedKeys(entity: Entity): string[] {
  return Object.keys(entity).filter((name) => entity[name] !== undefined);
}

describe('convertMdmServer properties', () => {
  it('turns any plausible server into an entity that fits the strict schema', () => {
    const entities: Entity[] = [];
    fc.assert(
      fc.property(serverId, documentedAttributes, (id, attributes) => {
        const entity = entityOf({ type: 'mdmServers', id, attributes });
        entities.push(entity);
        expect(entity._key).toBe(`apple_business_manager_mdm_server:${id}`);
        expect(entity.id).toBe(id);
        const serverName =
          typeof attributes.serverName === 'string' ? attributes.serverName.trim() : '';
        expect(entity.name).toBe(serverName === '' ? id : serverName.slice(0, 4096));
        // `active` follows Apple's status, and only when Apple gives one.
        const status = typeof attributes.status === 'string' ? attributes.status.trim() : '';
        if (status === '') expect(asStored(entity)).not.toHaveProperty('active');
        else expect(entity.active).toBe(status === 'ACTIVE');
      }),
      { numRuns: 300 },
    );
    // One schema check over all runs: the matcher compiles its schema on every call.
    expect(entities).toMatchGraphObjectSchema(Entities.MDM_SERVER);
  });

  it('carries attributes of newer API versions over, and invents nothing', () => {
    const unknownName = fc
      .oneof(
        fc.stringMatching(/^[a-z][A-Za-z0-9]{0,20}$/),
        fc.constantFrom('maxDevices', 'retiredDateTime', 'bad_name', 'with space', ''),
      )
      .filter((name) => !SERVER_ATTRIBUTES.includes(name));
    const extras = fc.dictionary(unknownName, anyValue, { maxKeys: 8 });
    const schemaProperties = new Set(Object.keys(EntitySchemas.MDM_SERVER.properties));
    const documentedParts: Entity[] = [];
    fc.assert(
      fc.property(serverId, documentedAttributes, extras, (id, documented, extra) => {
        const attributes = { ...extra, ...documented };
        // The Service schema is validated in tests, as `collect` does.
        const entity = entityOf({ type: 'mdmServers', id, attributes });
        const carried = storedKeys(entity).filter((name) => !schemaProperties.has(name));
        for (const name of carried) {
          const source = name.endsWith('On') ? `${name.slice(0, -2)}DateTime` : name;
          expect(
            Object.prototype.hasOwnProperty.call(extra, name) ||
              Object.prototype.hasOwnProperty.call(extra, source),
          ).toBe(true);
          const value = entity[name];
          expect(value === null || typeof value !== 'object' || Array.isArray(value)).toBe(true);
        }
        // Without the carried-over attributes, the entity is exactly what the strict schema lists.
        documentedParts.push(
          Object.fromEntries(
            Object.entries(entity).filter(([name]) => !carried.includes(name)),
          ) as Entity,
        );
      }),
      { numRuns: 300 },
    );
    expect(documentedParts).toMatchGraphObjectSchema(Entities.MDM_SERVER);
  });
});
