import {
  RelationshipClass,
  StepEntityMetadata,
  StepRelationshipMetadata,
} from '@jupiterone/integration-sdk-core';

export const Steps = {
  ORGANIZATION: 'fetch-organization',
  MDM_SERVERS: 'fetch-mdm-servers',
  DEVICES: 'fetch-devices',
  DEVICE_ASSIGNMENTS: 'build-mdm-server-device-relationships',
} as const;

const STRING = { type: 'string' };
const STRINGS = { type: 'array', items: STRING };
const STRING_OR_STRINGS = { anyOf: [STRING, STRINGS] };
const TIME = { type: 'number' };
const BOOLEAN = { type: 'boolean' };
const GRAPH_OBJECT = {
  _key: STRING,
  _type: STRING,
  _class: STRINGS,
  _rawData: { type: 'array' },
  // The Entity class already types `id`; repeating it here trips Ajv's strict mode.
  id: {},
  name: STRING,
  displayName: STRING,
};

/**
 * The exact property set of each entity type. `additionalProperties: false`
 * makes step tests fail on any property that is renamed, added or misspelt
 * without updating this list (and so the documentation).
 */
export const EntitySchemas = {
  ORGANIZATION: {
    additionalProperties: false,
    properties: {
      ...GRAPH_OBJECT,
      clientId: STRING,
      accountType: { type: 'string', enum: ['business', 'school'] },
      orgType: { type: 'string', enum: ['org', 'edu'] },
      orgId: STRING,
      orgEmail: STRING,
      orgPhone: STRING,
      orgAddress: STRING,
      adminId: STRING,
      accessURL: STRING,
      webLink: STRING,
    },
  },
  MDM_SERVER: {
    additionalProperties: false,
    properties: {
      ...GRAPH_OBJECT,
      category: STRINGS,
      function: STRINGS,
      serverType: STRING,
      status: STRING,
      active: BOOLEAN,
      createdOn: TIME,
      updatedOn: TIME,
      defaultProductFamilies: STRINGS,
      deviceCount: { type: 'number' },
      enableMdmDisownFlag: BOOLEAN,
      lastConnectedOn: TIME,
      lastConnectedIp: STRING,
    },
  },
  DEVICE: {
    additionalProperties: false,
    properties: {
      ...GRAPH_OBJECT,
      category: { type: ['string', 'null'] },
      make: STRING,
      model: { type: ['string', 'null'] },
      serial: STRING,
      deviceId: STRING,
      lastSeenOn: { type: 'null' },
      hardwareVendor: STRING,
      hardwareModel: STRING,
      hardwareSerial: STRING,
      platform: STRING,
      status: STRING,
      assignmentStatus: STRING,
      active: BOOLEAN,
      deviceFamily: STRING,
      productType: STRING,
      deviceCapacity: STRING,
      color: STRING,
      partNumber: STRING,
      orderNumber: STRING,
      orderedOn: TIME,
      addedToOrgOn: TIME,
      updatedOn: TIME,
      releasedFromOrgOn: TIME,
      purchaseSourceType: STRING,
      purchaseSourceId: STRING,
      imei: STRINGS,
      meid: STRINGS,
      eid: STRING,
      wifiMacAddress: STRING_OR_STRINGS,
      bluetoothMacAddress: STRING_OR_STRINGS,
      ethernetMacAddress: STRINGS,
      macAddress: STRINGS,
      isMdmMigrationCapable: BOOLEAN,
      mdmMigrationStatus: STRING,
      mdmMigrationDeadlineOn: TIME,
    },
  },
};

export const Entities = {
  ORGANIZATION: {
    resourceName: 'Organization',
    _type: 'apple_business_manager_organization',
    _class: ['Account'],
    schema: EntitySchemas.ORGANIZATION,
  },
  MDM_SERVER: {
    resourceName: 'MDM Server',
    _type: 'apple_business_manager_mdm_server',
    _class: ['Service'],
    schema: EntitySchemas.MDM_SERVER,
  },
  DEVICE: {
    resourceName: 'Device',
    _type: 'apple_business_manager_org_device',
    _class: ['Device'],
    schema: EntitySchemas.DEVICE,
  },
} satisfies Record<string, StepEntityMetadata>;

export const Relationships = {
  ORGANIZATION_HAS_MDM_SERVER: {
    _type: 'apple_business_manager_organization_has_mdm_server',
    sourceType: Entities.ORGANIZATION._type,
    _class: RelationshipClass.HAS,
    targetType: Entities.MDM_SERVER._type,
  },
  ORGANIZATION_HAS_DEVICE: {
    _type: 'apple_business_manager_organization_has_org_device',
    sourceType: Entities.ORGANIZATION._type,
    _class: RelationshipClass.HAS,
    targetType: Entities.DEVICE._type,
  },
  MDM_SERVER_HAS_DEVICE: {
    _type: 'apple_business_manager_mdm_server_has_org_device',
    sourceType: Entities.MDM_SERVER._type,
    _class: RelationshipClass.HAS,
    targetType: Entities.DEVICE._type,
  },
} satisfies Record<string, StepRelationshipMetadata>;

/** Keys of values that steps pass to later steps through the job state. */
export const DataKeys = {
  MDM_SERVERS: 'MDM_SERVERS',
  DEVICE_COUNT: 'DEVICE_COUNT',
} as const;

export function organizationKey(clientId: string): string {
  return `${Entities.ORGANIZATION._type}:${clientId}`;
}

export function mdmServerKey(serverId: string): string {
  return `${Entities.MDM_SERVER._type}:${serverId}`;
}

export function deviceKey(serialNumber: string): string {
  return `${Entities.DEVICE._type}:${serialNumber}`;
}
