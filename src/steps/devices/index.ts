import { Entity, IntegrationStep, JobState, Relationship } from '@jupiterone/integration-sdk-core';

import { AbmClient, PAGE_LIMIT } from '../../abm/client';
import { OrgDevice } from '../../abm/types';
import { IntegrationConfig } from '../../config';
import { getRun } from '../../run';
import { hasRelationship } from '../convert';
import { RepeatGuard } from '../repeats';
import { DataKeys, deviceKey, Entities, organizationKey, Relationships, Steps } from '../constants';
import { droppedReason, SkipTally } from '../tally';
import { isRecord, readString, readTime } from '../values';
import { convertOrgDevice, keptSerial } from './converter';

/** Least time between two progress lines, so a million-device walk logs a readable trickle. */
const PROGRESS_INTERVAL_MS = 10_000;

/**
 * The first devices go to the SDK in small batches, each written at once;
 * after them, each page's devices go as one batch.
 *
 * V8 decides once per allocation site (an object or array literal, here or in
 * the SDK) whether to allocate its objects straight into the old generation:
 * at the first young-generation collection that finds at least 100 objects
 * made there since the collection before, it says yes if 85% of them are still
 * alive, and keeps that answer for the rest of the process. A device's entity,
 * its raw-data wrapper and its relationship live until their batch is written.
 * When that first collection came while the first batch was being made (in
 * about half the runs, with batches of 500), their sites said yes; from then
 * on these objects were made old, and what they hold (the device's raw data
 * among it) was kept through every young collection until a full one: at
 * 100,000 devices the collection peaked about 100 MB higher.
 *
 * So the first 500 devices go 50 at a time, each batch written before the
 * next is made: a collection among them finds at most about 50 alive of the
 * 100 or more it judges. Young collections come about every 1,000 devices,
 * so the first one to judge falls among the first 1,100 or so. Whether it
 * falls in the rest of the first page (one batch of 500) or early in the
 * second, the part of the current batch made so far, all that can be alive,
 * is at most about half of what was made since the collection before. The
 * ten small writes take about 45 ms (docs/performance-rounds.md, seventh round).
 *
 * A batch of a page is written at once too (the runtime writes its buffer
 * once it holds 500 graph objects), in files of 500 that the runtime writes
 * side by side, as it does the SDK floor's. With batches of 500, every file
 * was written after the one before, and the step sat idle through twice as
 * many waits for the disk (docs/performance-rounds.md, eighth round).
 */
export const EARLY_DEVICES = 500;
export const EARLY_BATCH = 50;

/**
 * How many devices go to the SDK in the next batch, once `added` have gone; a batch also ends with
 * its page. The SDK floor hands the SDK the same batches.
 */
export function batchSize(added: number): number {
  return added < EARLY_DEVICES ? EARLY_BATCH : PAGE_LIMIT;
}

/** A record of a device the walk already had: left out, the device kept as first listed. */
export const DUPLICATE_DEVICE_REASON = 'each device is kept once, as first listed';

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
    const repeated = new SkipTally();
    const trimmed = new SkipTally();
    const releaseUnknown = new SkipTally();
    let collected = 0;
    let released = 0;
    let lastProgressAt = 0;
    const { checkReleasedDevices } = run.config;

    const repeats = new RepeatGuard('GET /v1/orgDevices', 'devices');
    for await (const page of client.iterateOrgDevices()) {
      const releases = checkReleasedDevices
        ? await findReleases(client, await releaseCandidates(page.items, jobState), releaseUnknown)
        : undefined;
      let entities: Entity[] = [];
      let relationships: Relationship[] = [];
      const addBatch = async () => {
        const early = collected < EARLY_DEVICES;
        await jobState.addEntities(entities);
        await jobState.addRelationships(relationships);
        if (early) await jobState.flush();
        collected += entities.length;
        entities = [];
        relationships = [];
      };
      const keysInPage = new Set<string>();
      let listedAgain = 0;
      for (const resource of page.items) {
        const result = convertOrgDevice(resource, releases?.get(resource));
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
          repeated.add(DUPLICATE_DEVICE_REASON, String(entity.serial));
          listedAgain += 1;
          continue;
        }
        keysInPage.add(entity._key);
        if (result.dropped) trimmed.add(droppedReason(result.dropped), String(entity.serial));
        if (entity.releasedFromOrgOn !== undefined) released += 1;
        entities.push(entity);
        relationships.push(
          hasRelationship(Entities.ORGANIZATION._type, orgKey, Entities.DEVICE._type, entity._key),
        );
        if (entities.length === batchSize(collected)) await addBatch();
      }
      if (entities.length > 0) await addBatch();
      repeats.page(keysInPage.size, listedAgain);

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
    // Counted apart: the devices are in the graph, only their repeated records are not.
    repeated.report(logger, 'repeated device records');
    trimmed.report(logger, 'devices', 'kept without some attributes');
    releaseUnknown.report(logger, 'devices', 'kept, release unknown');
    await jobState.setData(DataKeys.DEVICE_COUNT, collected);
    const ofWhich = checkReleasedDevices ? ` (${released} released from the organization)` : '';
    logger.info(
      {
        devices: collected,
        released: checkReleasedDevices ? released : undefined,
        skipped: skipped.total + repeated.total,
      },
      `Collected ${collected} devices${ofWhich}.`,
    );
  },
};

const UNADDRESSABLE_REASON =
  'the serial number is only dots, which no URL can address, so the device was not looked up';

const RELEASE_UNKNOWN_REASON = 'Apple had no details (404 on the single-device GET)';

const UNREADABLE_DATE_REASON =
  "the single-device GET gave a release date that could not be read (releasedFromOrgDateTime, in the device's raw data)";

/** Why a device was kept without knowing whether it was released (`kept, release unknown`). */
export const RELEASE_UNKNOWN_REASONS = [
  UNADDRESSABLE_REASON,
  RELEASE_UNKNOWN_REASON,
  UNREADABLE_DATE_REASON,
] as const;

/** A record the walk will keep, and the serial number it is kept under. */
interface Listing {
  item: OrgDevice;
  serial: string;
}

/**
 * Whether the list shows a device as a released one would be: UNASSIGNED (a released device is
 * never assigned) or without a status (null, missing or blank, as the reference allows: found by
 * a review, such a device ended "unknown", unchecked). Read as the converter reads it, trimmed
 * (found by a review: `" UNASSIGNED "` and `""` were not looked up).
 */
function mayBeReleased(item: OrgDevice): boolean {
  const status = readString(isRecord(item.attributes) ? item.attributes.status : undefined);
  return status === undefined || status === 'UNASSIGNED';
}

/**
 * The records of a page that the walk will keep and that may be released devices: not skipped
 * for want of a serial number, and not a repeat of a device listed before, in this page or an
 * earlier one. Only these are looked up one by one: a repeated record was looked up (and counted
 * released) a second time before (found by a review: 104 released in the log, 103 in the graph).
 */
async function releaseCandidates(
  items: OrgDevice[],
  jobState: Pick<JobState, 'hasKey'>,
): Promise<Listing[]> {
  const listings: Listing[] = [];
  const inPage = new Set<string>();
  for (const item of items) {
    const serial = keptSerial(item);
    if (serial === undefined || inPage.has(serial)) continue;
    inPage.add(serial);
    if (mayBeReleased(item) && !(await jobState.hasKey(deviceKey(serial)))) {
      listings.push({ item, serial });
    }
  }
  return listings;
}

/**
 * Looks up, with the single-device GET (the only answer that gives `releasedFromOrgDateTime`),
 * each candidate of the page by the serial number it is kept under, which is the device's id in
 * Apple's API. Before, a record was looked up by its `id` as given: one without an id was not
 * looked up at all, a padded id was sent with its spaces, and a record whose id was another
 * device's serial number had that device's answer attached (found by reviews). The lookups share
 * the client's pace and in-flight cap; a lookup that fails after its retries fails the step, so
 * no device is reported "not released" for want of an answer.
 *
 * Answers, by list record, what the converter reads the release from: the answer where it gives
 * a release date, `null` where the device was looked up and the answer gave none (or there was
 * none to give: a 404, an address no URL can carry), so that the lookup, not the list, decides.
 */
async function findReleases(
  client: AbmClient,
  candidates: Listing[],
  unknown: SkipTally,
): Promise<Map<OrgDevice, OrgDevice | null>> {
  const releases = new Map<OrgDevice, OrgDevice | null>();
  const lookedUp: Listing[] = [];
  for (const candidate of candidates) {
    releases.set(candidate.item, null);
    // A URL resolves the segments `.` and `..` away, percent-encoded or not: such an address
    // would ask for another path (the device list itself), so it is not used (found by a review).
    if (/^\.+$/.test(candidate.serial)) unknown.add(UNADDRESSABLE_REASON, candidate.serial);
    else lookedUp.push(candidate);
  }
  const lookups = await Promise.allSettled(
    lookedUp.map(({ serial }) => client.getOrgDevice(serial)),
  );
  lookups.forEach((lookup, i) => {
    if (lookup.status === 'rejected') return;
    const { item, serial } = lookedUp[i];
    const details = lookup.value;
    if (!details) {
      unknown.add(RELEASE_UNKNOWN_REASON, serial);
      return;
    }
    const date = isRecord(details.attributes)
      ? details.attributes.releasedFromOrgDateTime
      : undefined;
    // No date, as readString reads text: not released.
    if (date === undefined || date === null || (typeof date === 'string' && !readString(date))) {
      return;
    }
    // A date the converter cannot read would leave the device "not released" without a word
    // (found by a review): it is kept, with the answer in its raw data, and counted.
    if (readTime(date) === undefined) unknown.add(UNREADABLE_DATE_REASON, serial);
    releases.set(item, details);
  });
  const failed = lookups.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
  return releases;
}
