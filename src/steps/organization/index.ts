import { IntegrationStep } from '@jupiterone/integration-sdk-core';

import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { Entities, Steps } from '../constants';
import { convertOrganization } from './converter';

export const organizationStep: IntegrationStep<IntegrationConfig> = {
  id: Steps.ORGANIZATION,
  name: 'Fetch Organization',
  entities: [Entities.ORGANIZATION],
  relationships: [],
  async executionHandler(context) {
    const { config } = getRun(context);
    await context.jobState.addEntity(convertOrganization(config));
  },
};
