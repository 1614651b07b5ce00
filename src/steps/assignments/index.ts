import {
  generateRelationshipKey,
  IntegrationLogger,
  IntegrationProviderAPIError,
  IntegrationStep,
  IntegrationStepExecutionContext,
  JobState,
  Relationship,
  RelationshipClass,
} from '@jupiterone/integration-sdk-core';

import { AbmClient, Page } from '../../abm/client';
import { ResourceIdentifier } from '../../abm/types';
import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { hasRelationship } from '../convert';
import { RepeatGuard } from '../repeats';
import { DataKeys, deviceKey, Entities, Relationships, Steps } from '../constants';
import { MdmServerSummary } from '../mdm-servers/converter';
import { SkipTally } from '../tally';
import { isRecord, readString } from '../values';
import { FirstListings } from './listings';

export const UNKNOWN_DEVICE_REASON =
  'assignments to devices that are not in the device list (no relationship created)';

export const REPEATED_ID_REASON =
  "a server's list named these devices again; each is linked to that server once";

export const SEVERAL_SERVERS_REASON =
  'Apple assigns a device to one server at a time, so each most likely moved between the servers that list it while the run read their lists; the next run shows where it stays';

const MAX_COUNTED = 10_000;

/** What every server's walk shares. */
interface Walks {
  jobState: JobState;
  logger: IntegrationLogger;
  servers: MdmServerSummary[];
  skipped: SkipTally;
  /** Ids a server's list names again: the device is linked to that server once. */
  repeated: SkipTally;
  /** Which server listed each device first; undefined with more servers than it can tell apart. */
  listings?: FirstListings;
  severalServers: SkipTally;
  /**
   * The devices counted in `severalServers`, so that a third server does not count one again;
   * the first MAX_COUNTED only, should Apple list a whole fleet twice.
   */
  counted: Set<string>;
}

/**
 * Links each MDM server to the devices assigned to it, from the servers'
 * device id lists: one short walk per server instead of one call per device.
 * The walks run side by side; the client keeps them within its in-flight cap.
 */
export const assignmentsStep: IntegrationStep<IntegrationConfig> = {
  id: Steps.DEVICE_ASSIGNMENTS,
  name: 'Build MDM Server Device Relationships',
  entities: [],
  relationships: [Relationships.MDM_SERVER_HAS_DEVICE],
  dependsOn: [Steps.MDM_SERVERS, Steps.DEVICES],
  async executionHandler(context) {
    const { logger } = context;
    const client = getRun(context).getClient(logger);
    try {
      await linkAssignments(context, client);
    } finally {
      // Last in every run, whatever the steps' outcome: a slow or failed run explains itself.
      logRequestSummary(logger, client);
    }
  },
};

async function linkAssignments(
  context: IntegrationStepExecutionContext<IntegrationConfig>,
  client: AbmClient,
): Promise<void> {
  const { jobState, logger } = context;
  const run = getRun(context);
  const prefetched = await run.takeServerDeviceIds();
  const servers = await jobState.getData<MdmServerSummary[]>(DataKeys.MDM_SERVERS);
  const devices = await jobState.getData<number>(DataKeys.DEVICE_COUNT);
  if (servers === undefined || devices === undefined) {
    // A step this one depends on failed. The runtime marks this step's types partial, so the
    // previous assignments are kept; checking ids against half a device list would only
    // produce misleading warnings and wasted requests.
    logger.warn('Device assignments not collected: the MDM server or device step did not finish.');
    return;
  }
  const walks: Walks = {
    jobState,
    logger,
    servers,
    skipped: new SkipTally(),
    repeated: new SkipTally(),
    listings: servers.length <= FirstListings.MAX_SERVERS ? new FirstListings(devices) : undefined,
    severalServers: new SkipTally(),
    counted: new Set(),
  };

  const results = await Promise.allSettled(
    servers.map((server, index) =>
      linkServerDevices(
        prefetched ? prefetched.walk(server.id) : client.iterateServerDeviceIds(server.id),
        walks,
        index,
      ),
    ),
  );
  walks.skipped.report(logger, 'MDM server assignments');
  walks.repeated.report(logger, 'repeated device ids');
  walks.severalServers.report(logger, 'devices', 'linked to more than one MDM server');
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    // Every other server's walk has finished by now; report the first failure, count the rest.
    const more = failures.length > 1 ? ` (${failures.length - 1} more servers failed too)` : '';
    logger.warn({ failedServers: failures.length }, `Device assignments incomplete${more}.`);
    throw failures[0].reason;
  }

  const assignments = results.reduce((sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0), 0);
  logCollectionSummary(logger, { mdmServers: servers.length, devices, assignments });
}

/**
 * How the run went with Apple, logged last in every run (at info): the requests it made, how
 * many Apple throttled or the run retried, how long it waited to retry and how much of the retry
 * budget that was, and the pace it ended at. A run that was slow, or that failed for want of
 * budget, says why here rather than only in debug lines.
 */
function logRequestSummary(logger: IntegrationLogger, client: AbmClient): void {
  const { requests, throttled, retries, retryWaitMs } = client.transport.stats;
  const budget = client.transport.retryBudget;
  const spentMs = budget.totalMs - budget.leftMs;
  const pace = client.transport.paceIntervalMs;
  const pausedMs = client.transport.pausedMs;
  const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
  const share = budget.totalMs > 0 ? Math.round((100 * spentMs) / budget.totalMs) : 0;
  logger.info(
    {
      requests,
      tokens: client.auth.tokensIssued,
      throttled,
      retries,
      retryWaitMs,
      pausedMs,
      retryBudgetSpentMs: spentMs,
      retryBudgetMs: budget.totalMs,
      paceIntervalMs: Math.round(pace),
    },
    `Requests: ${requests} sent (retries included), ${client.auth.tokensIssued} access token${client.auth.tokensIssued === 1 ? '' : 's'} issued; ${throttled} answered 429, ${retries} retried, ${seconds(retryWaitMs)} waiting to retry${pausedMs >= 500 ? `, every request held ${seconds(pausedMs)} by Retry-After pauses` : ''}; ${seconds(spentMs)} of the ${seconds(budget.totalMs)} retry budget spent (${share}%); ${pace > 0 ? `paced at one request every ${Math.round(pace)} ms` : 'unpaced'}.`,
  );
}

/**
 * The run's closing line: how many entities and relationships of each `_type` were collected.
 * SDK 8.41 has no hook after the last step (its invocation config offers only
 * `beforeAddEntity` and `beforeAddRelationship`), so this step, which runs last because it
 * depends on every other, logs it once all of them have succeeded. The counts are of what the
 * steps added: the organization step adds exactly one entity, and the server and device steps
 * add one HAS from the organization with each entity.
 */
function logCollectionSummary(
  logger: IntegrationLogger,
  counts: { mdmServers: number; devices: number; assignments: number },
): void {
  const entities: Record<string, number> = {
    [Entities.ORGANIZATION._type]: 1,
    [Entities.MDM_SERVER._type]: counts.mdmServers,
    [Entities.DEVICE._type]: counts.devices,
  };
  const relationships: Record<string, number> = {
    [Relationships.ORGANIZATION_HAS_MDM_SERVER._type]: counts.mdmServers,
    [Relationships.ORGANIZATION_HAS_DEVICE._type]: counts.devices,
    [Relationships.MDM_SERVER_HAS_DEVICE._type]: counts.assignments,
  };
  const list = (byType: Record<string, number>) =>
    Object.entries(byType)
      .map(([type, count]) => `${count} ${type}`)
      .join(', ');
  logger.info(
    { entities, relationships },
    `Collection summary: entities ${list(entities)}; relationships ${list(relationships)}.`,
  );
}

async function linkServerDevices(
  pages: AsyncIterable<Page<ResourceIdentifier<'orgDevices'>>>,
  walks: Walks,
  serverIndex: number,
): Promise<number> {
  const { jobState, logger, skipped } = walks;
  const server = walks.servers[serverIndex];
  let linked = 0;
  let pagesRead = 0;
  const repeats = new RepeatGuard(
    `GET /v1/mdmServers/${server.id}/relationships/devices`,
    'device ids',
  );
  try {
    for await (const page of pages) {
      pagesRead += 1;
      const relationships: Relationship[] = [];
      const keysInPage = new Set<string>();
      let listedAgain = 0;
      for (const item of page.items) {
        const serial = isRecord(item) ? readString(item.id) : undefined;
        if (!serial) {
          skipped.add('device ids that are missing or not strings');
          continue;
        }
        const toKey = deviceKey(serial);
        // As in the devices step: await hasKey only when it really answers with a promise.
        let listed = jobState.hasKey(toKey);
        if (typeof listed !== 'boolean') listed = await listed;
        if (!listed) {
          skipped.add(UNKNOWN_DEVICE_REASON, serial);
          continue;
        }
        const relationship = hasRelationship(
          Entities.MDM_SERVER._type,
          server.key,
          Entities.DEVICE._type,
          toKey,
        );
        let linkedBefore: boolean | Promise<boolean> = keysInPage.has(relationship._key);
        if (!linkedBefore) linkedBefore = jobState.hasKey(relationship._key);
        if (typeof linkedBefore !== 'boolean') linkedBefore = await linkedBefore;
        if (linkedBefore) {
          walks.repeated.add(REPEATED_ID_REASON, serial);
          listedAgain += 1;
          continue;
        }
        keysInPage.add(relationship._key);
        relationships.push(relationship);
        // A device another server listed first: confirmed against that server's relationship
        // to it. Its walk added the page that holds it before this one was read, for each page
        // is linked in one go: nothing waits between recording a device and adding its page's
        // relationships, when the key index answers at once, as the SDK's does.
        const first = walks.listings?.record(serial, serverIndex) ?? -1;
        if (first >= 0) {
          const other = walks.servers[first];
          const otherKey = generateRelationshipKey(RelationshipClass.HAS, other.key, toKey);
          let linkedThere = jobState.hasKey(otherKey);
          if (typeof linkedThere !== 'boolean') linkedThere = await linkedThere;
          if (linkedThere && !walks.counted.has(serial)) {
            if (walks.counted.size < MAX_COUNTED) walks.counted.add(serial);
            walks.severalServers.add(
              SEVERAL_SERVERS_REASON,
              `${serial} (${other.name}, ${server.name})`,
            );
          }
        }
      }
      await jobState.addRelationships(relationships);
      linked += relationships.length;
      repeats.page(relationships.length, listedAgain);
    }
  } catch (err) {
    // A deleted server may no longer have a device list; that is an empty list, not a failure.
    // Only when its first page is refused: a 404 after pages were read cuts a list short, and
    // taking it for empty would report part of it as all of it (found by a review).
    if (
      pagesRead === 0 &&
      server.status === 'DELETED' &&
      err instanceof IntegrationProviderAPIError &&
      err.status === 404
    ) {
      logger.info(
        { serverId: server.id },
        `MDM server ${server.name} is deleted and has no device list.`,
      );
      return linked;
    }
    throw err;
  }
  return linked;
}
