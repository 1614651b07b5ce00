import { Entity } from '@jupiterone/integration-sdk-core';

import { convertOrgDevice } from '../../src/steps/devices/converter';
import { GeneratedFleet } from '../sandbox/fleet';
import { EARLY_BATCH, EARLY_DEVICES } from '../../src/steps/devices';
import { floorBatches, relabel, serialFor } from './sdk-floor';

function template(): Entity {
  const fleet = new GeneratedFleet({ seed: 3, devices: 5, servers: 2, baseUrl: 'http://x' });
  const result = convertOrgDevice(fleet.device(1));
  if ('skipped' in result) throw new Error(result.skipped);
  return result.entity;
}

/** Every object and array reachable from a value. */
function containers(value: unknown, into = new Set<object>()): Set<object> {
  if (value !== null && typeof value === 'object') {
    into.add(value);
    for (const item of Object.values(value)) containers(item, into);
  }
  return into;
}

describe('the SDK floor', () => {
  it('gives each index a serial of the same length, unique over a large fleet', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 200_000; i++) serials.add(serialFor('C02XK1ABJGH5', i));
    expect(serials.size).toBe(200_000);
    expect([...serials].filter((serial) => serial.length !== 12)).toEqual([]);
  });

  it('copies a device deeply, its serial replaced everywhere, raw data included', () => {
    const original = template();
    const before = JSON.stringify(original);
    const from = String(original.serial);
    const to = serialFor(from, 12345);
    const copy = relabel(original, to);

    // The copy is the template with the serial swapped, and nothing else changed.
    expect(JSON.stringify(copy)).toBe(before.split(from).join(to));
    expect(JSON.stringify(copy)).not.toContain(from);
    expect(copy._key).toBe(`apple_business_manager_org_device:${to}`);
    expect(JSON.stringify(original)).toBe(before);
    // An entity of its own: no object or array is shared with the template, raw data included.
    const shared = [...containers(copy)].filter((c) => containers(original).has(c));
    expect(shared).toEqual([]);
    expect(copy._rawData).toBeDefined();
  });

  it('ingests the first devices in the small batches of the collector, written at once, then the rest of the first page, then a page at a time', () => {
    const batches = [...floorBatches(EARLY_DEVICES + 2500)];
    const early = batches.filter((b) => b.early);
    expect(early).toHaveLength(EARLY_DEVICES / EARLY_BATCH);
    expect(early.every((b) => b.end - b.start === EARLY_BATCH)).toBe(true);
    expect(batches.filter((b) => !b.early).map((b) => [b.start, b.end])).toEqual([
      [500, 1000],
      [1000, 2000],
      [2000, 3000],
    ]);
    // Every device once, in order.
    expect(batches.map((b) => b.start)).toEqual([0, ...batches.slice(0, -1).map((b) => b.end)]);
    expect(batches[batches.length - 1].end).toBe(EARLY_DEVICES + 2500);
    expect([...floorBatches(70)]).toEqual([
      { start: 0, end: 50, early: true },
      { start: 50, end: 70, early: true },
    ]);
  });
});
