import { Entity, IntegrationStep, Relationship } from '@jupiterone/integration-sdk-core';

import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { hasRelationship } from '../convert';
import { DataKeys, Entities, organizationKey, Relationships, Steps } from '../constants';
import { droppedReason, SkipTally } from '../tally';
import { convertOrgDevice } from './converter';

/** Least time between two progress lines, so a million-device walk logs a readable trickle. */
const PROGRESS_INTERVAL_MS = 10_000;

export const DUPLICATE_DEVICE_REASON = 'listed more than once (kept the first)';

export const devicesStep: IntegrationStep<IntegrationConfig> = {
  id: Steps.DEVICES,
  name: 'Fetch Devices',
  entities: [Entities.DEVICE],
  relationships: [Relationships.ORGANIZATION_HAS_DEVICE],
  dependsOn: [Steps.ORGANIZATION],
  async executionHandler(context) {
    const { jobState, logger } = context;
    const run = getRun(context);
    const client = run.getClient(logger);
    const orgKey = organizationKey(run.config.clientId);
    const skipped = new SkipTally();
    const trimmed = new SkipTally();
    let collected = 0;
    let lastProgressAt = 0;

    for await (const page of client.iterateOrgDevices()) {
      const entities: Entity[] = [];
      const relationships: Relationship[] = [];
      const keysInPage = new Set<string>();
      for (const resource of page.items) {
        const result = convertOrgDevice(resource);
        if ('skipped' in result) {
          skipped.add(result.skipped);
          continue;
        }
        const { entity } = result;
        if (result.dropped) trimmed.add(droppedReason(result.dropped), String(entity.serial));
        // The local runtime answers hasKey at once; awaiting only a real promise spares the loop
        // a microtask turn per device.
        let seen: boolean | Promise<boolean> = keysInPage.has(entity._key);
        if (!seen) seen = jobState.hasKey(entity._key);
        if (typeof seen !== 'boolean') seen = await seen;
        if (seen) {
          skipped.add(DUPLICATE_DEVICE_REASON, String(entity.serial));
          continue;
        }
        keysInPage.add(entity._key);
        entities.push(entity);
        relationships.push(
          hasRelationship(Entities.ORGANIZATION._type, orgKey, Entities.DEVICE._type, entity._key),
        );
      }
      await jobState.addEntities(entities);
      await jobState.addRelationships(relationships);
      collected += entities.length;

      const now = Date.now();
      if (now - lastProgressAt >= PROGRESS_INTERVAL_MS) {
        lastProgressAt = now;
        const of = page.total !== undefined ? ` of ${page.total}` : '';
        logger.info(
          { devices: collected, total: page.total, page: page.number },
          `Devices: ${collected}${of} collected (page ${page.number}).`,
        );
      }
    }

    skipped.report(logger, 'devices');
    trimmed.report(logger, 'devices', 'kept without some attributes');
    await jobState.setData(DataKeys.DEVICE_COUNT, collected);
    logger.info({ devices: collected, skipped: skipped.total }, `Collected ${collected} devices.`);
  },
};
