import fc from 'fast-check';

import { convertMdmServer } from './converter';

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
