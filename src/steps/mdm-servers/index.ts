import { IntegrationStep } from '@jupiterone/integration-sdk-core';

import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { DataKeys, Entities, organizationKey, Relationships, Steps } from '../constants';
import { hasRelationship } from '../convert';
import { droppedReason, SkipTally } from '../tally';
import { convertMdmServer, MdmServerSummary } from './converter';

export const mdmServersStep: IntegrationStep<IntegrationConfig> = {
  id: Steps.MDM_SERVERS,
  name: 'Fetch MDM Servers',
  entities: [Entities.MDM_SERVER],
  relationships: [Relationships.ORGANIZATION_HAS_MDM_SERVER],
  dependsOn: [Steps.ORGANIZATION],
  async executionHandler(context) {
    const { jobState, logger } = context;
    const run = getRun(context);
    const client = run.getClient(logger);
    const orgKey = organizationKey(run.config.clientId);
    const servers: MdmServerSummary[] = [];
    const skipped = new SkipTally();
    const repeated = new SkipTally();
    const trimmed = new SkipTally();

    for await (const page of client.iterateMdmServers()) {
      for (const resource of page.items) {
        const result = convertMdmServer(resource);
        if ('skipped' in result) {
          skipped.add(result.skipped);
          continue;
        }
        const { entity } = result;
        if (await jobState.hasKey(entity._key)) {
          repeated.add('each server is kept once, as first listed', String(entity.id));
          continue;
        }
        if (result.dropped) trimmed.add(droppedReason(result.dropped), String(entity.id));
        await jobState.addEntity(entity);
        await jobState.addRelationship(
          hasRelationship(
            Entities.ORGANIZATION._type,
            orgKey,
            Entities.MDM_SERVER._type,
            entity._key,
          ),
        );
        servers.push({
          id: String(entity.id),
          key: entity._key,
          name: String(entity.name),
          status: typeof entity.status === 'string' ? entity.status : undefined,
        });
      }
    }
    skipped.report(logger, 'MDM servers');
    repeated.report(logger, 'repeated MDM server records');
    trimmed.report(logger, 'MDM servers', 'kept without some attributes');
    await jobState.setData(DataKeys.MDM_SERVERS, servers);
    // The assignments step must wait for the device walk; its id pages can be fetched meanwhile.
    run.prefetchServerDeviceIds(servers.map((s) => s.id));
    logger.info({ mdmServers: servers.length }, `Collected ${servers.length} MDM servers.`);
  },
};
