import { Entity, Relationship } from '@jupiterone/integration-sdk-core';

import { HttpOptions } from '../../src/abm/http';
import { CollectedGraph } from '../helpers/collect';
import type { Sandbox } from '../sandbox';

/** Transport knobs that keep fault tests quick: short backoff, short per-attempt timeout. */
export const FAST_HTTP: HttpOptions = {
  baseBackoffMs: 5,
  maxBackoffMs: 50,
  requestTimeoutMs: 2_000,
};

export const Types = {
  ORGANIZATION: 'apple_business_manager_organization',
  MDM_SERVER: 'apple_business_manager_mdm_server',
  DEVICE: 'apple_business_manager_org_device',
  ORG_HAS_SERVER: 'apple_business_manager_organization_has_mdm_server',
  ORG_HAS_DEVICE: 'apple_business_manager_organization_has_org_device',
  SERVER_HAS_DEVICE: 'apple_business_manager_mdm_server_has_org_device',
} as const;

export const ALL_STEPS_SUCCEEDED = [
  { id: 'fetch-organization', status: 'success' },
  { id: 'fetch-mdm-servers', status: 'success' },
  { id: 'fetch-devices', status: 'success' },
  { id: 'build-mdm-server-device-relationships', status: 'success' },
];

export function stepStatuses(graph: CollectedGraph): Array<{ id: string; status: string }> {
  return (graph.summary?.integrationStepResults ?? []).map(({ id, status }) => ({ id, status }));
}

export function partialTypes(graph: CollectedGraph): string[] {
  return [...(graph.summary?.metadata.partialDatasets.types ?? [])].sort();
}

/** Asserts a run that finished completely: no error, every step a success, nothing partial. */
export function expectComplete(graph: CollectedGraph): void {
  expect(graph.error).toBeUndefined();
  expect(stepStatuses(graph)).toEqual(ALL_STEPS_SUCCEEDED);
  expect(partialTypes(graph)).toEqual([]);
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortDeep((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Properties that may differ between two runs of the same data; none are expected today. */
const VOLATILE = new Set<string>([]);

function canonical(object: Entity | Relationship, origins: string[]): string {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(object)) if (!VOLATILE.has(k)) copy[k] = v;
  let text = JSON.stringify(sortDeep(copy));
  for (const origin of origins) text = text.split(origin).join('<origin>');
  return text;
}

/**
 * Differences between two graphs, as short readable lines (empty when
 * identical): keys only in one of them, keys present twice, and objects whose
 * content differs. `origins` are sandbox origins to treat as equal (raw data
 * carries Apple's `links`, which name the host).
 */
export function graphDifferences(
  expected: Pick<CollectedGraph, 'entities' | 'relationships'>,
  actual: Pick<CollectedGraph, 'entities' | 'relationships'>,
  options: { limit?: number; origins?: string[] } = {},
): string[] {
  const { limit = 20, origins = [] } = options;
  const differences: string[] = [];
  const index = (objects: Array<Entity | Relationship>, label: string) => {
    const byKey = new Map<string, string>();
    for (const object of objects) {
      if (byKey.has(object._key)) differences.push(`${label}: ${object._key} appears twice`);
      byKey.set(object._key, canonical(object, origins));
    }
    return byKey;
  };
  const want = index([...expected.entities, ...expected.relationships], 'expected');
  const got = index([...actual.entities, ...actual.relationships], 'actual');
  for (const [key, content] of want) {
    const other = got.get(key);
    if (other === undefined) differences.push(`missing: ${key}`);
    else if (other !== content) differences.push(`differs: ${key}`);
  }
  for (const key of got.keys()) if (!want.has(key)) differences.push(`unexpected: ${key}`);
  return differences.length > limit
    ? [...differences.slice(0, limit), `... and ${differences.length - limit} more`]
    : differences;
}

/**
 * Asserts what a run that did not throw promises the platform, whatever went
 * wrong: a summary was written; every failed step's types are partial; every
 * type not listed as partial holds exactly what the fault-free `baseline`
 * holds (nothing reported complete with data missing); a partial type holds
 * only objects of the baseline, unchanged; no relationship dangles.
 */
export function expectHonest(
  graph: CollectedGraph,
  baseline: CollectedGraph,
  options: { origins?: string[] } = {},
): void {
  expect(graph.error).toBeUndefined();
  expect(graph.summary).toBeDefined();
  const partial = new Set(partialTypes(graph));
  for (const step of graph.summary?.integrationStepResults ?? []) {
    if (step.status !== 'success') {
      for (const type of step.partialTypes)
        expect({ step: step.id, partial: partial.has(type) }).toEqual({
          step: step.id,
          partial: true,
        });
    }
  }
  const typeOf = new Map<string, string>();
  for (const object of [...baseline.entities, ...baseline.relationships]) {
    typeOf.set(object._key, object._type);
  }
  const differences = graphDifferences(baseline, graph, {
    limit: Number.MAX_SAFE_INTEGER,
    origins: options.origins,
  }).filter((line) => {
    const missing = /^missing: (.*)$/.exec(line);
    return !(missing && partial.has(typeOf.get(missing[1]) ?? ''));
  });
  expect(differences.slice(0, 20)).toEqual([]);
  expect(danglingRelationships(graph)).toEqual([]);
}

/**
 * Waits until the sandbox has had nothing in flight and no new request for
 * `quietMs`: work a failed run left going (a step the runtime did not wait
 * for, the id prefetch) has ended, so its statistics are final.
 */
export async function settled(sandbox: Sandbox, quietMs = 300, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const { totalRequests, inFlight } = sandbox.stats();
    if (inFlight === 0 && totalRequests === last) return;
    if (Date.now() > deadline) throw new Error('the sandbox did not settle');
    last = inFlight === 0 ? totalRequests : -1;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

export function ofType<T extends Entity | Relationship>(objects: T[], type: string): T[] {
  return objects.filter((o) => o._type === type);
}

/** Relationship endpoints that name no collected entity. */
export function danglingRelationships(graph: CollectedGraph): string[] {
  const keys = new Set(graph.entities.map((e) => e._key));
  return graph.relationships
    .filter((r) => !keys.has(String(r._fromEntityKey)) || !keys.has(String(r._toEntityKey)))
    .map((r) => r._key);
}

// eslint-disable-next-line no-control-regex -- terminal colour codes start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Runs `fn` while collecting everything written to stdout and stderr (the
 * runtime's logger writes there), without echoing it.
 */
export async function captureOutput<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const result = await fn();
    return { result, output: chunks.join('').replace(ANSI, '') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The message of the step failure the runtime logged for `stepName`, if any. */
export function stepFailureReason(output: string, stepName: string): string | undefined {
  const line = output
    .split('\n')
    .find((l) => l.includes(`Step "${stepName}" failed to complete due to error.`));
  const match = line && /reason="((?:[^"\\]|\\.)*)"/.exec(line);
  return match ? JSON.parse(`"${match[1]}"`) : undefined;
}

/**
 * A transport clock that runs `factor` times faster than real time, for the
 * transport only (pacing, backoff, Retry-After waits). Socket timeouts stay
 * real. It keeps long fault runs quick without changing any decision the
 * transport takes: every wait is still taken, just compressed.
 */
export function compressedClock(factor: number): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
} {
  const start = Date.now();
  return {
    now: () => start + (Date.now() - start) * factor,
    sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms / factor)),
  };
}

/** Every complete page the sandbox served, with how often; a count above 1 is a re-walk. */
export function pagesServedMoreThanOnce(stats: {
  pagesServed: Record<string, Record<string, number>>;
}): string[] {
  const repeated: string[] = [];
  for (const [endpoint, pages] of Object.entries(stats.pagesServed)) {
    for (const [page, count] of Object.entries(pages)) {
      if (count > 1) repeated.push(`${endpoint} ${page} x${count}`);
    }
  }
  return repeated;
}
