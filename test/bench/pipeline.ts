/**
 * One benchmark scenario, end to end: a sandbox in its own process, the real
 * collection in another, the SDK floor in a third, then the figures, the
 * floors, the ratios and the request-economy check. Used by `npm run bench`
 * (run.ts) and by the smoke test (bench.test.ts).
 */
import { promises as fs } from 'fs';
import path from 'path';

import type { Entity } from '@jupiterone/integration-sdk-core';

import { PAGE_LIMIT } from '../../src/abm/client';
import { Entities } from '../../src/steps/constants';
import type { SandboxStats } from '../sandbox/types';
import { planFor, RequestPlan } from './plan';
import {
  makeFloorProjectDir,
  makeProjectDir,
  Measured,
  ProbeFigures,
  runCollector,
  runSdkFloor,
  startSandboxProcess,
} from './processes';
import type { FloorInput, FloorTemplates } from './sdk-floor';

export interface ScenarioOptions {
  devices: number;
  servers: number;
  seed: number;
  /** Added by the sandbox to every request. */
  latencyMs: number;
  jitterMs: number;
  /** Requests per second the sandbox allows before it answers 429. */
  rps?: number;
  /** Where temporary project directories go. */
  workDir: string;
  /**
   * The collector's source directory (default: this repository's `src`). Another
   * directory measures a candidate change; it must resolve modules from this
   * repository's node_modules (put it inside the repository, e.g. under .bench/).
   */
  srcDir?: string;
  /** Keep the collected graph and logs. */
  keep?: boolean;
  /** Bound for each child process. */
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface RequestCounts {
  token: number;
  orgDevicesList: number;
  mdmServersList: number;
  mdmServersDevices: number;
  other: number;
  total: number;
}

export interface EconomyCheck {
  pass: boolean;
  /** Why it failed, one reason a line; empty when it passed. */
  problems: string[];
}

export interface ScenarioResult {
  options: Omit<ScenarioOptions, 'log'>;
  plan: RequestPlan;
  collector: Measured & { cpuMs: number };
  sdkFloor: Measured & { cpuMs: number };
  /** Requests that got an answer, by endpoint and status, as the sandbox counted them. */
  sandbox: SandboxStats;
  /**
   * CPU the sandbox's process used while the collector ran: time the two cores gave to
   * answering, which Apple's servers would not take from the collector's machine.
   */
  sandboxCpuMs: number;
  /** Successful (2xx) requests by endpoint. */
  requests: RequestCounts;
  tokensIssued: number;
  /** 429 answers the sandbox gave. */
  throttled: number;
  graph: { devices: number; entities: number; relationships: number; partialTypes: string[] };
  floors: {
    /** (longest chain of dependent requests) x latency. */
    networkMs: number;
    sdkMs: number;
    /** Minimal requests / allowed rate, when the sandbox limits the rate. */
    rateMs?: number;
  };
  ratios: {
    /** Collector wall / max(network floor, SDK floor). */
    wall: number;
    /** Collector peak RSS / SDK floor peak RSS. */
    memory: number;
    /** Collector wall / rate floor, when the sandbox limits the rate. */
    rate?: number;
  };
  economy: EconomyCheck;
}

const ENDPOINT_KEYS: Record<string, keyof RequestCounts> = {
  token: 'token',
  'orgDevices.list': 'orgDevicesList',
  'mdmServers.list': 'mdmServersList',
  'mdmServers.devices': 'mdmServersDevices',
};

function sumStatuses(byStatus: Record<string, number> | undefined, match: (s: string) => boolean) {
  return Object.entries(byStatus ?? {}).reduce((sum, [s, n]) => sum + (match(s) ? n : 0), 0);
}

export function countRequests(stats: SandboxStats): RequestCounts {
  const counts: RequestCounts = {
    token: 0,
    orgDevicesList: 0,
    mdmServersList: 0,
    mdmServersDevices: 0,
    other: 0,
    total: 0,
  };
  for (const [endpoint, byStatus] of Object.entries(stats.byEndpoint)) {
    const ok = sumStatuses(byStatus, (s) => /^2\d\d$/.test(s));
    counts[ENDPOINT_KEYS[endpoint] ?? 'other'] += ok;
    counts.total += ok;
  }
  return counts;
}

export function throttledCount(stats: SandboxStats): number {
  return Object.values(stats.byEndpoint).reduce(
    (sum, byStatus) => sum + sumStatuses(byStatus, (s) => s === '429'),
    0,
  );
}

/**
 * Exactly the minimal requests: one token, the device pages, the server list,
 * each server's id pages; no other endpoint (no per-device calls); no page
 * served twice. Throttled (429) attempts are not counted as pages: the
 * sandbox refused them before serving anything.
 */
export function checkEconomy(plan: RequestPlan, stats: SandboxStats): EconomyCheck {
  const problems: string[] = [];
  const counts = countRequests(stats);
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) problems.push(`${what}: ${got} successful requests, minimal is ${want}`);
  };
  expect('token', counts.token, plan.minimal.token);
  expect('orgDevices.list', counts.orgDevicesList, plan.minimal.orgDevicesList);
  expect('mdmServers.list', counts.mdmServersList, plan.minimal.mdmServersList);
  expect('mdmServers.devices', counts.mdmServersDevices, plan.minimal.mdmServersDevices);
  if (counts.other > 0) problems.push(`${counts.other} requests to other endpoints`);
  if (stats.tokensIssued !== 1) problems.push(`${stats.tokensIssued} tokens issued, minimal is 1`);
  for (const [endpoint, pages] of Object.entries(stats.pagesServed)) {
    const twice = Object.entries(pages).filter(([, n]) => n > 1);
    if (twice.length > 0) {
      problems.push(`${endpoint}: ${twice.length} pages served more than once`);
    }
  }
  const failures = Object.entries(stats.byEndpoint).flatMap(([endpoint, byStatus]) =>
    Object.entries(byStatus)
      .filter(([s]) => !/^2\d\d$/.test(s) && s !== '429')
      .map(([s, n]) => `${endpoint} ${s} x${n}`),
  );
  if (failures.length > 0) problems.push(`failed requests: ${failures.join(', ')}`);
  return { pass: problems.length === 0, problems };
}

interface GraphFile {
  entities?: Array<{ _type: string }>;
  relationships?: Array<{ _type: string }>;
}

/**
 * Counts what the collection wrote, one graph file at a time, and reads
 * summary.json. With `sample`, also keeps the organization, every MDM server
 * and up to `sample.devices` devices as written: the SDK floor's templates.
 */
export async function readCollectedGraph(
  projectDir: string,
  sample?: { devices: number; into: FloorTemplates },
): Promise<ScenarioResult['graph']> {
  const storage = path.join(projectDir, '.j1-integration');
  const summary = JSON.parse(await fs.readFile(path.join(storage, 'summary.json'), 'utf8')) as {
    integrationStepResults: Array<{ status: string; partialTypes: string[] }>;
    metadata: { partialDatasets: { types: string[] } };
  };
  const partialTypes = [
    ...summary.metadata.partialDatasets.types,
    ...summary.integrationStepResults.flatMap((r) =>
      r.status === 'success' ? [] : [`(step ${r.status})`],
    ),
  ];
  const graph = { devices: 0, entities: 0, relationships: 0, partialTypes };
  const root = path.join(storage, 'graph');
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.json')) {
        const file = JSON.parse(await fs.readFile(full, 'utf8')) as GraphFile;
        for (const entity of file.entities ?? []) {
          graph.entities += 1;
          if (entity._type === Entities.DEVICE._type) graph.devices += 1;
          if (sample) keepTemplate(sample, entity as Entity);
        }
        graph.relationships += file.relationships?.length ?? 0;
      }
    }
  };
  await walk(root);
  return graph;
}

function keepTemplate(sample: { devices: number; into: FloorTemplates }, entity: Entity): void {
  const { into } = sample;
  if (entity._type === Entities.DEVICE._type) {
    if (into.devices.length < sample.devices) into.devices.push(entity);
  } else if (entity._type === Entities.MDM_SERVER._type) into.servers.push(entity);
  else if (entity._type === Entities.ORGANIZATION._type) into.organization = entity;
}

function withCpu(measured: Measured): Measured & { cpuMs: number } {
  return { ...measured, cpuMs: measured.probe.userCpuMs + measured.probe.systemCpuMs };
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const plan = planFor(options);
  const label = `${plan.devices} devices, ${plan.servers} servers, latency ${options.latencyMs} ms${
    options.rps !== undefined ? `, ${options.rps} rps` : ''
  }`;
  log(`[${label}] starting the sandbox`);
  const sandbox = await startSandboxProcess(
    {
      devices: plan.devices,
      servers: plan.servers,
      seed: options.seed,
      latencyMs: options.latencyMs,
      jitterMs: options.jitterMs,
      rps: options.rps,
    },
    Math.min(options.timeoutMs, 120_000),
  );
  const collectDir = await makeProjectDir(options.workDir, 'collect-', options.srcDir);
  let collectorRun: Measured;
  let stats: SandboxStats;
  let sandboxCpuMs: number;
  try {
    log(`[${label}] collecting with j1-integration collect`);
    const before = await sandbox.stats();
    collectorRun = await runCollector(collectDir, sandbox, options.timeoutMs);
    stats = await sandbox.stats();
    sandboxCpuMs = stats.cpuMs - before.cpuMs;
  } finally {
    await sandbox.stop();
  }
  // The floor ingests the collection's own entities: a page of its devices, its servers and its
  // organization, as it wrote them, copied as often as the fleet needs.
  const templates: FloorTemplates = { devices: [], servers: [] };
  const graph = await readCollectedGraph(collectDir, { devices: PAGE_LIMIT, into: templates });
  if (!options.keep) await fs.rm(collectDir, { recursive: true, force: true });

  log(`[${label}] measuring the SDK floor`);
  const floorDir = await makeFloorProjectDir(options.workDir);
  const floorInput: FloorInput = {
    templatesFile: path.join(floorDir, 'templates.json'),
    devices: plan.devices,
    assignedPerServer: plan.assignedPerServer.map((s) => s.devices),
  };
  await fs.writeFile(floorInput.templatesFile, JSON.stringify(templates));
  let floorRun: Measured;
  try {
    floorRun = await runSdkFloor(floorDir, floorInput, options.timeoutMs);
    const floorGraph = await readCollectedGraph(floorDir);
    if (
      floorGraph.entities !== plan.graph.entities ||
      floorGraph.relationships !== plan.graph.relationships
    ) {
      throw new Error(
        `the SDK floor wrote ${floorGraph.entities} entities and ${floorGraph.relationships} relationships, the plan says ${plan.graph.entities} and ${plan.graph.relationships}`,
      );
    }
  } finally {
    if (!options.keep) await fs.rm(floorDir, { recursive: true, force: true });
  }

  const collector = withCpu(collectorRun);
  const sdkFloor = withCpu(floorRun);
  const networkMs = plan.chain.longest * options.latencyMs;
  // The sandbox's limit, like the one reported from Apple, counts the API's requests only.
  const limited = plan.minimal.total - plan.minimal.token;
  const rateMs = options.rps !== undefined ? (limited / options.rps) * 1000 : undefined;
  const economy = checkEconomy(plan, stats);
  if (graph.devices !== plan.devices) {
    economy.problems.push(`the graph holds ${graph.devices} devices, the fleet ${plan.devices}`);
  }
  const result: ScenarioResult = {
    options: { ...options, log: undefined } as Omit<ScenarioOptions, 'log'>,
    plan,
    collector,
    sdkFloor,
    sandbox: stats,
    sandboxCpuMs,
    requests: countRequests(stats),
    tokensIssued: stats.tokensIssued,
    throttled: throttledCount(stats),
    graph,
    floors: { networkMs, sdkMs: sdkFloor.wallMs, rateMs },
    ratios: {
      wall: collector.wallMs / Math.max(networkMs, sdkFloor.wallMs),
      memory: collector.probe.peakRssBytes / sdkFloor.probe.peakRssBytes,
      rate: rateMs !== undefined ? collector.wallMs / rateMs : undefined,
    },
    economy,
  };
  log(
    `[${label}] wall ${(collector.wallMs / 1000).toFixed(2)} s (floors: network ${(networkMs / 1000).toFixed(2)} s, SDK ${(sdkFloor.wallMs / 1000).toFixed(2)} s), peak RSS ${mb(collector.probe.peakRssBytes)} MB (SDK floor ${mb(sdkFloor.probe.peakRssBytes)} MB), ${result.throttled} x 429`,
  );
  const threads = [collector, sdkFloor].map((m) => mainThreadText(m.probe.mainThread));
  log(`[${label}] main thread: collector ${threads[0]}; SDK floor ${threads[1]}`);
  return result;
}

function mainThreadText(time: ProbeFigures['mainThread']): string {
  if (!time) return 'not measured';
  return `busy ${(time.busyMs / 1000).toFixed(2)} s, idle ${(time.idleMs / 1000).toFixed(2)} s`;
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
