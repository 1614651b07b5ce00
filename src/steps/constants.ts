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

export const Entities = {
  ORGANIZATION: {
    resourceName: 'Organization',
    _type: 'apple_business_manager_organization',
    _class: ['Account'],
  },
  MDM_SERVER: {
    resourceName: 'MDM Server',
    _type: 'apple_business_manager_mdm_server',
    _class: ['Service'],
  },
  DEVICE: {
    resourceName: 'Device',
    _type: 'apple_business_manager_org_device',
    _class: ['Device'],
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
  ORGANIZATION_ENTITY: 'ORGANIZATION_ENTITY',
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
