import { Entity, IntegrationStep, Relationship } from '@jupiterone/integration-sdk-core';

import { AbmClient } from '../../abm/client';
import { OrgDevice } from '../../abm/types';
import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { hasRelationship } from '../convert';
import { DataKeys, Entities, organizationKey, Relationships, Steps } from '../constants';
import { droppedReason, SkipTally } from '../tally';
import { isRecord } from '../values';
import { convertOrgDevice } from './converter';

/** Least time between two progress lines, so a million-device walk logs a readable trickle. */
const PROGRESS_INTERVAL_MS = 10_000;

/**
 * Devices handed to the SDK at a time: the size at which the runtime writes
 * its buffer to disk (500 graph objects), so each batch is written as soon as
 * it is made, and its entities can die young instead of outliving the
 * conversion of a whole page of 1,000. With one page read ahead, at 100,000
 * devices, 11 runs of 19 then promoted 143 to 151 MB to V8's old generation
 * instead of 258 to 308 MB, and peaked at 298 to 313 MB instead of 395 to
 * 453 MB; the others still promoted 241 to 278 MB (docs/performance.md).
 */
export const SDK_BATCH = 500;

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
    let released = 0;
    let lastProgressAt = 0;
    const { checkReleasedDevices } = run.config;

    for await (const page of client.iterateOrgDevices()) {
      if (checkReleasedDevices) {
        released += await addReleaseDates(client, page.items, trimmed);
      }
      let entities: Entity[] = [];
      let relationships: Relationship[] = [];
      const addBatch = async () => {
        await jobState.addEntities(entities);
        await jobState.addRelationships(relationships);
        collected += entities.length;
        entities = [];
        relationships = [];
      };
      const keysInPage = new Set<string>();
      for (const resource of page.items) {
        const result = convertOrgDevice(resource);
        if ('skipped' in result) {
          skipped.add(result.skipped);
          continue;
        }
        const { entity } = result;
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
        if (result.dropped) trimmed.add(droppedReason(result.dropped), String(entity.serial));
        entities.push(entity);
        relationships.push(
          hasRelationship(Entities.ORGANIZATION._type, orgKey, Entities.DEVICE._type, entity._key),
        );
        if (entities.length === SDK_BATCH) await addBatch();
      }
      if (entities.length > 0) await addBatch();

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
    const ofWhich = checkReleasedDevices ? ` (${released} released from the organization)` : '';
    logger.info(
      {
        devices: collected,
        released: checkReleasedDevices ? released : undefined,
        skipped: skipped.total,
      },
      `Collected ${collected} devices${ofWhich}.`,
    );
  },
};

const RELEASE_UNKNOWN_REASON =
  'Apple had no details for them (404 on the single-device GET), so whether they were released is unknown';

/**
 * Fills in `releasedFromOrgDateTime`, which only the single-device GET gives,
 * for every device of the page that the list shows as UNASSIGNED (a released
 * device is never assigned). The lookups share the client's pace and in-flight
 * cap; a lookup that fails after its retries fails the step, so no device is
 * reported "not released" for want of an answer. Answers the number of
 * released devices found.
 */
async function addReleaseDates(
  client: AbmClient,
  items: OrgDevice[],
  unknown: SkipTally,
): Promise<number> {
  const unassigned = items.filter(
    (item): item is OrgDevice & { attributes: Record<string, unknown> } =>
      isRecord(item) &&
      isRecord(item.attributes) &&
      item.attributes.status === 'UNASSIGNED' &&
      typeof item.id === 'string' &&
      item.id.length > 0,
  );
  const lookups = await Promise.allSettled(unassigned.map((item) => client.getOrgDevice(item.id)));
  let released = 0;
  lookups.forEach((lookup, i) => {
    if (lookup.status === 'rejected') return;
    const details = lookup.value;
    if (!details) {
      unknown.add(RELEASE_UNKNOWN_REASON, unassigned[i].id);
      return;
    }
    const date = isRecord(details.attributes)
      ? details.attributes.releasedFromOrgDateTime
      : undefined;
    if (typeof date === 'string' && date.length > 0) {
      unassigned[i].attributes.releasedFromOrgDateTime = date;
      released += 1;
    }
  });
  const failed = lookups.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
  return released;
}
