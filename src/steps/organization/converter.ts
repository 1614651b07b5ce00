import { createIntegrationEntity, Entity } from '@jupiterone/integration-sdk-core';

import { AbmConfig } from '../../config';
import { Entities, organizationKey } from '../constants';
import { compact } from '../values';

const PORTALS = {
  business: { name: 'Apple Business Manager', url: 'https://business.apple.com', orgType: 'org' },
  school: { name: 'Apple School Manager', url: 'https://school.apple.com', orgType: 'edu' },
} as const;

/**
 * The organization. The API has no endpoint that describes it, so only what
 * can honestly be known is set: the account kind from the Client ID and the
 * optional details from the configuration.
 */
export function convertOrganization(
  config: Pick<AbmConfig, 'clientId' | 'kind' | 'organization'>,
): Entity {
  const portal = PORTALS[config.kind];
  const { organization } = config;
  const name = organization.name ?? portal.name;
  return createIntegrationEntity({
    entityData: {
      source: {},
      assign: compact({
        _key: organizationKey(config.clientId),
        _type: Entities.ORGANIZATION._type,
        _class: Entities.ORGANIZATION._class,
        id: organization.id ?? config.clientId,
        name,
        displayName: name,
        clientId: config.clientId,
        accountType: config.kind,
        orgType: portal.orgType,
        orgId: organization.id,
        orgEmail: organization.email,
        orgPhone: organization.phone,
        orgAddress: organization.address,
        adminId: organization.adminId,
        accessURL: portal.url,
        webLink: portal.url,
      }),
    },
  });
}
