/**
 * The benchmark's pipeline at a tiny size, so it cannot rot: the sandbox in its
 * own process, `j1-integration collect`, the SDK floor, the request-economy
 * check and the report. Figures belong in docs/performance.md; this asserts
 * structure only, never time.
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { Steps } from '../../src/steps/constants';
import { runScenario, ScenarioResult } from './pipeline';
import { planFor } from './plan';
import {
  END_MARKER,
  medianRun,
  merge,
  renderChart,
  renderTables,
  START_MARKER,
  toStored,
  updateDocument,
} from './report';

jest.setTimeout(120_000);

describe('the benchmark pipeline at 300 devices', () => {
  let workDir: string;
  let plain: ScenarioResult;
  let limited: ScenarioResult;

  beforeAll(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-bench-test-'));
    const common = { devices: 300, servers: 4, seed: 3, jitterMs: 0, workDir, timeoutMs: 60_000 };
    plain = await runScenario({ ...common, latencyMs: 0 });
    limited = await runScenario({ ...common, latencyMs: 0, rps: 20 });
  });

  afterAll(async () => {
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  it('collects every device with exactly the minimal requests', () => {
    for (const result of [plain, limited]) {
      expect(result.economy).toEqual({ pass: true, problems: [] });
      expect(result.graph.devices).toBe(300);
      expect(result.graph.partialTypes).toEqual([]);
      expect(result.graph.entities).toBe(result.plan.graph.entities);
      expect(result.graph.relationships).toBe(result.plan.graph.relationships);
      expect(result.requests.total).toBe(result.plan.minimal.total);
      expect(result.tokensIssued).toBe(1);
    }
  });

  it('measures both processes and gives finite ratios', () => {
    for (const result of [plain, limited]) {
      for (const measured of [result.collector, result.sdkFloor]) {
        expect(measured.wallMs).toBeGreaterThan(0);
        expect(measured.cpuMs).toBeGreaterThan(0);
        expect(measured.probe.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
      }
      expect(Number.isFinite(result.ratios.wall)).toBe(true);
      expect(Number.isFinite(result.ratios.memory)).toBe(true);
    }
    for (const result of [plain, limited]) {
      // The sandbox's own process answered every request while the collector ran: some CPU,
      // never more than both cores for the whole run.
      expect(result.sandboxCpuMs).toBeGreaterThan(0);
      expect(result.sandboxCpuMs).toBeLessThanOrEqual(2 * result.collector.wallMs);
    }
    // The token request is not rate-limited (the sandbox's limit covers the API).
    expect(limited.floors.rateMs).toBeCloseTo(((limited.plan.minimal.total - 1) / 20) * 1000, 6);
    expect(Number.isFinite(limited.ratios.rate)).toBe(true);
  });

  it("splits each process's time into its main thread's busy and idle time", () => {
    for (const result of [plain, limited]) {
      for (const measured of [result.collector, result.sdkFloor]) {
        const time = measured.probe.mainThread;
        expect(time).toBeDefined();
        const { busyMs = 0, idleMs = -1 } = time ?? {};
        // Start-up alone keeps the thread busy; idle can be short but never negative.
        expect(busyMs).toBeGreaterThan(0);
        expect(idleMs).toBeGreaterThanOrEqual(0);
        // Together they are the process's life, as the process itself saw it.
        expect(Math.abs(busyMs + idleMs - measured.probe.uptimeMs)).toBeLessThanOrEqual(
          0.05 * measured.probe.uptimeMs + 20,
        );
      }
    }
    // With no latency, loading the SDK and our modules is most of a run, and none of it idles.
    const collector = plain.collector.probe.mainThread;
    expect(collector?.busyMs).toBeGreaterThan(collector?.idleMs ?? Infinity);
  });

  it("reads both processes' step times from their logs, within their wall time", () => {
    for (const result of [plain, limited]) {
      for (const measured of [result.collector, result.sdkFloor]) {
        const times = measured.steps;
        expect(times).toBeDefined();
        expect(Object.keys(times?.steps ?? {}).sort()).toEqual(Object.values(Steps).sort());
        expect(times?.executionMs).toBeLessThanOrEqual(measured.wallMs);
        for (const ms of Object.values(times?.steps ?? {})) {
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThanOrEqual(times?.executionMs ?? 0);
        }
      }
    }
  });

  it('renders the tables, the chart and the document block', () => {
    const stored = merge(
      { sizes: [] },
      { sizes: [toStored(plain)], rateLimited: toStored(limited) },
    );
    const tables = renderTables(stored);
    expect(tables).toContain('| 300 |');
    expect(tables).toContain('PASS');
    expect(tables).toContain('Rate-limited scenario');
    expect(tables).toContain('### Where the time goes');
    expect(tables).toMatch(/\| 300 \| \d+\.\d\d \/ \d+\.\d\d \|/);
    // The time table's last column: the sandbox's CPU beside the collector.
    expect(tables).toContain('sandbox CPU s, beside the collector');
    expect(tables).toContain(`| ${(plain.sandboxCpuMs / 1000).toFixed(2)} |\n`);
    const svg = renderChart(stored);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<polyline');
    const document = updateDocument(updateDocument('# Performance\n', tables), tables);
    expect(document.split(START_MARKER)).toHaveLength(2);
    expect(document.split(END_MARKER)).toHaveLength(2);
  });

  it('reports a repeated scenario by its median run, with the range of every ratio', () => {
    const withRatios = (wall: number, memory: number): ScenarioResult => ({
      ...plain,
      ratios: { ...plain.ratios, wall, memory },
    });
    const runs = [withRatios(1.5, 1.2), withRatios(1.1, 1.4), withRatios(1.3, 0.9)];
    const kept = medianRun(runs);
    expect(kept.ratios.wall).toBe(1.3);

    const stored = toStored(kept, new Date(), runs);
    expect(stored.spread).toMatchObject({
      runs: 3,
      wallRatio: [1.1, 1.3, 1.5],
      memoryRatio: [0.9, 1.2, 1.4],
    });
    expect(stored.spread?.devicesStepRatio).toHaveLength(3);
    const tables = renderTables({ sizes: [stored] });
    expect(tables).toContain('| 300 | 3 |');
    expect(tables).toContain('| 1.30x (1.10 to 1.50x) | 0.90x (0.90 to 1.40x) |');
    expect(tables).toContain('the run with the median wall ratio');
    // A single run has no spread and no note.
    expect(toStored(plain).spread).toBeUndefined();
    expect(renderTables({ sizes: [toStored(plain)] })).not.toContain('median');

    // A run that failed the request-economy check is the one reported, whatever its ratio.
    const failed: ScenarioResult = {
      ...withRatios(1.2, 1),
      economy: { pass: false, problems: ['a page served twice'] },
    };
    expect(medianRun([...runs, failed])).toBe(failed);
  });
});

describe('the request plan', () => {
  it('counts pages and the longest chain of dependent requests', () => {
    const plan = planFor({ devices: 2500, servers: 4, seed: 1 });
    expect(plan.minimal.orgDevicesList).toBe(3);
    expect(plan.minimal.mdmServersList).toBe(1);
    // Every server takes at least one id page, even the one without devices.
    expect(plan.minimal.mdmServersDevices).toBeGreaterThanOrEqual(4);
    expect(plan.chain.devices).toBe(4);
    expect(plan.chain.longest).toBe(Math.max(plan.chain.devices, plan.chain.assignments));
    expect(plan.graph.entities).toBe(1 + 4 + 2500);
  });
});
