/**
 * Turns scenario results into the markdown tables and the SVG chart of
 * docs/performance.md. Results persist in test/bench/results.json, one entry
 * per fleet size (and one for the rate-limited scenario), so a run of one
 * size (say the 1,000,000 run, on request) updates its row and keeps the
 * others.
 */
import { Steps } from '../../src/steps/constants';
import { mb, ScenarioResult } from './pipeline';
import type { StepTimes } from './steps';

export const START_MARKER = '<!-- bench:results:start -->';
export const END_MARKER = '<!-- bench:results:end -->';

/** What results.json keeps of a run: the figures, not the logs or the sandbox's page lists. */
export interface StoredResult {
  measuredAt: string;
  devices: number;
  servers: number;
  latencyMs: number;
  rps?: number;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  peakHeapUsedBytes: number;
  networkFloorMs: number;
  sdkFloorMs: number;
  sdkFloorCpuMs: number;
  sdkFloorPeakRssBytes: number;
  rateFloorMs?: number;
  wallRatio: number;
  memoryRatio: number;
  rateRatio?: number;
  chain: number;
  minimalRequests: number;
  requests: ScenarioResult['requests'];
  tokensIssued: number;
  throttled: number;
  devicesInGraph: number;
  partialTypes: string[];
  economyPass: boolean;
  economyProblems: string[];
  /** Execution and step times of each process, from its log (absent in older results). */
  collectorSteps?: StepTimes;
  sdkFloorSteps?: StepTimes;
  /** CPU the sandbox's process used while the collector ran (absent in older results). */
  sandboxCpuMs?: number;
  /** Every run's ratios when the scenario ran more than once (`--repeat`); this row is the median run. */
  spread?: RunSpread;
}

/** Each ratio over every run of a repeated scenario, lowest first. */
export interface RunSpread {
  runs: number;
  wallRatio: number[];
  memoryRatio: number[];
  rateRatio?: number[];
  devicesStepRatio?: number[];
}

export interface StoredResults {
  sizes: StoredResult[];
  rateLimited?: StoredResult;
}

/**
 * The run to report of a scenario run several times: the one whose wall ratio
 * (rate ratio in the rate-limited scenario) is the median, since on a shared
 * machine one run can be 20% off or more. A run that failed the economy check wins
 * over all, so a failure is never hidden behind a median.
 */
export function medianRun(runs: ScenarioResult[]): ScenarioResult {
  if (runs.length === 0) throw new Error('no runs to choose from');
  const failed = runs.find((r) => !r.economy.pass);
  if (failed) return failed;
  const sorted = [...runs].sort((a, b) => headlineRatio(a) - headlineRatio(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export const headlineRatio = (r: ScenarioResult): number => r.ratios.rate ?? r.ratios.wall;

/** The collector's devices step over the floor's, from their logs. */
function devicesStepRatio(r: {
  collector: { steps?: StepTimes };
  sdkFloor: { steps?: StepTimes };
}): number | undefined {
  return ratioOf(r.collector.steps?.steps[Steps.DEVICES], r.sdkFloor.steps?.steps[Steps.DEVICES]);
}

function spreadOf(runs: ScenarioResult[]): RunSpread {
  const sorted = (values: number[]): number[] =>
    values.map((v) => round(v, 3)).sort((a, b) => a - b);
  /** Only a ratio every run has: a range over some of the runs would mislead. */
  const sortedIfAll = (values: Array<number | undefined>): number[] | undefined =>
    values.every((v): v is number => v !== undefined) ? sorted(values) : undefined;
  return {
    runs: runs.length,
    wallRatio: sorted(runs.map((r) => r.ratios.wall)),
    memoryRatio: sorted(runs.map((r) => r.ratios.memory)),
    rateRatio: sortedIfAll(runs.map((r) => r.ratios.rate)),
    devicesStepRatio: sortedIfAll(runs.map(devicesStepRatio)),
  };
}

/**
 * What results.json keeps of `result`; `runs` are all the runs of its
 * scenario, `result` among them, when it ran more than once.
 */
export function toStored(
  result: ScenarioResult,
  measuredAt = new Date(),
  runs: ScenarioResult[] = [result],
): StoredResult {
  return {
    measuredAt: measuredAt.toISOString(),
    devices: result.plan.devices,
    servers: result.plan.servers,
    latencyMs: result.options.latencyMs,
    rps: result.options.rps,
    wallMs: Math.round(result.collector.wallMs),
    cpuMs: result.collector.cpuMs,
    peakRssBytes: result.collector.probe.peakRssBytes,
    peakHeapUsedBytes: result.collector.probe.peakHeapUsedBytes,
    networkFloorMs: result.floors.networkMs,
    sdkFloorMs: Math.round(result.floors.sdkMs),
    sdkFloorCpuMs: result.sdkFloor.cpuMs,
    sdkFloorPeakRssBytes: result.sdkFloor.probe.peakRssBytes,
    rateFloorMs: result.floors.rateMs,
    wallRatio: round(result.ratios.wall, 3),
    memoryRatio: round(result.ratios.memory, 3),
    rateRatio: result.ratios.rate !== undefined ? round(result.ratios.rate, 3) : undefined,
    chain: result.plan.chain.longest,
    minimalRequests: result.plan.minimal.total,
    requests: result.requests,
    tokensIssued: result.tokensIssued,
    throttled: result.throttled,
    devicesInGraph: result.graph.devices,
    partialTypes: result.graph.partialTypes,
    economyPass: result.economy.pass,
    economyProblems: result.economy.problems,
    collectorSteps: result.collector.steps,
    sdkFloorSteps: result.sdkFloor.steps,
    sandboxCpuMs: result.sandboxCpuMs,
    spread: runs.length > 1 ? spreadOf(runs) : undefined,
  };
}

export function merge(previous: StoredResults, update: StoredResults): StoredResults {
  const bySize = new Map(previous.sizes.map((r) => [r.devices, r]));
  for (const r of update.sizes) bySize.set(r.devices, r);
  return {
    sizes: [...bySize.values()].sort((a, b) => a.devices - b.devices),
    rateLimited: update.rateLimited ?? previous.rateLimited,
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const s = (ms: number | undefined): string => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
const x = (ratio: number | undefined): string =>
  ratio === undefined ? '-' : `${ratio.toFixed(2)}x`;
const n = (value: number): string => value.toLocaleString('en-US');
/** A ratio, with the lowest and highest over the runs when there were several. */
const xs = (ratio: number | undefined, all: number[] | undefined): string =>
  all && all.length > 1
    ? `${x(ratio)} (${all[0].toFixed(2)} to ${x(all[all.length - 1])})`
    : x(ratio);
const runsOf = (r: StoredResult): number => r.spread?.runs ?? 1;

function requestsCell(r: StoredResult): string {
  const q = r.requests;
  return `${q.token} / ${q.orgDevicesList} / ${q.mdmServersList} / ${q.mdmServersDevices}${
    q.other ? ` / other ${q.other}` : ''
  }`;
}

function economyCell(r: StoredResult): string {
  return r.economyPass ? 'PASS' : `FAIL: ${r.economyProblems.join('; ')}`;
}

const ratioOf = (a: number | undefined, b: number | undefined): number | undefined =>
  a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
const startUp = (wallMs: number, times: StepTimes | undefined): number | undefined =>
  times ? wallMs - times.executionMs : undefined;
const pair = (a: number | undefined, b: number | undefined): string => `${s(a)} / ${s(b)}`;

/**
 * Where each process spent its wall time, from its log: start-up (Node,
 * ts-node and the CLI, the same code in both), the device step and the
 * assignments step, collector against floor; and the CPU the sandbox's process
 * took from the same two cores while the collector ran.
 */
function timeTable(sizes: StoredResult[]): string[] {
  const lines = [
    '### Where the time goes',
    '',
    '| devices | start-up s: collector / floor | execution s: collector / floor | devices step s: collector / floor | devices step ratio | assignments step s: collector / floor | assignments step ratio | sandbox CPU s, beside the collector |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of sizes) {
    const c = r.collectorSteps;
    const f = r.sdkFloorSteps;
    const devices = [c?.steps[Steps.DEVICES], f?.steps[Steps.DEVICES]] as const;
    const assignments = [
      c?.steps[Steps.DEVICE_ASSIGNMENTS],
      f?.steps[Steps.DEVICE_ASSIGNMENTS],
    ] as const;
    lines.push(
      `| ${n(r.devices)} | ${pair(startUp(r.wallMs, c), startUp(r.sdkFloorMs, f))} | ${pair(c?.executionMs, f?.executionMs)} | ${pair(...devices)} | ${xs(ratioOf(...devices), r.spread?.devicesStepRatio)} | ${pair(...assignments)} | ${x(ratioOf(...assignments))} | ${s(r.sandboxCpuMs)} |`,
    );
  }
  return lines;
}

/** The markdown between the markers. */
export function renderTables(results: StoredResults): string {
  const lines: string[] = [];
  lines.push('### Time and memory');
  lines.push('');
  lines.push(
    '| devices | runs | wall s | CPU s | peak RSS MB | network floor s | SDK floor s | SDK floor CPU s | SDK floor RSS MB | wall / max(floors) | RSS / SDK RSS |',
  );
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results.sizes) {
    lines.push(
      `| ${n(r.devices)} | ${runsOf(r)} | ${s(r.wallMs)} | ${s(r.cpuMs)} | ${mb(r.peakRssBytes)} | ${s(r.networkFloorMs)} | ${s(r.sdkFloorMs)} | ${s(r.sdkFloorCpuMs)} | ${mb(r.sdkFloorPeakRssBytes)} | ${xs(r.wallRatio, r.spread?.wallRatio)} | ${xs(r.memoryRatio, r.spread?.memoryRatio)} |`,
    );
  }
  lines.push('');
  lines.push(...timeTable(results.sizes));
  lines.push('');
  lines.push('### Requests');
  lines.push('');
  lines.push(
    '| devices | servers | latency ms | requests: token / device pages / server list / id pages | minimal | chain | tokens issued | 429s | devices in graph | partial datasets | request economy |',
  );
  lines.push('|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|');
  for (const r of results.sizes) {
    lines.push(
      `| ${n(r.devices)} | ${r.servers} | ${r.latencyMs} | ${requestsCell(r)} | ${r.minimalRequests} | ${r.chain} | ${r.tokensIssued} | ${r.throttled} | ${n(r.devicesInGraph)} | ${r.partialTypes.length ? r.partialTypes.join(', ') : 'none'} | ${economyCell(r)} |`,
    );
  }
  const rate = results.rateLimited;
  if (rate) {
    lines.push('');
    lines.push('### Rate-limited scenario');
    lines.push('');
    lines.push(
      '| devices | servers | allowed rps | latency ms | runs | minimal requests | rate floor s | wall s | wall / rate floor | 429s | requests: token / device pages / server list / id pages | request economy |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
    lines.push(
      `| ${n(rate.devices)} | ${rate.servers} | ${rate.rps ?? '-'} | ${rate.latencyMs} | ${runsOf(rate)} | ${rate.minimalRequests} | ${s(rate.rateFloorMs)} | ${s(rate.wallMs)} | ${xs(rate.rateRatio, rate.spread?.rateRatio)} | ${rate.throttled} | ${requestsCell(rate)} | ${economyCell(rate)} |`,
    );
  }
  if ([...results.sizes, ...(rate ? [rate] : [])].some((r) => runsOf(r) > 1)) {
    lines.push('');
    lines.push(
      'Where a scenario ran more than once (`--repeat N`), its row is the run with the median wall ratio (the median rate ratio in the rate-limited scenario), and a ratio is followed by the lowest and the highest it took over the runs.',
    );
  }
  const dates = [...results.sizes, ...(rate ? [rate] : [])].map((r) => r.measuredAt.slice(0, 10));
  lines.push('');
  lines.push(
    `Measured ${[...new Set(dates)].sort().join(', ')} on this project's 2-core machine, which is shared, so the same code's figures move from run to run (hence the ranges). Raw figures: \`test/bench/results.json\`.`,
  );
  return lines.join('\n');
}

/** Replaces the block between the markers, or appends one when the document has none. */
export function updateDocument(document: string, tables: string): string {
  const block = `${START_MARKER}\n\n${tables}\n\n${END_MARKER}`;
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start >= 0 && end > start) {
    return document.slice(0, start) + block + document.slice(end + END_MARKER.length);
  }
  return `${document.trimEnd()}\n\n${block}\n`;
}

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: Array<[number, number]>;
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One log-log panel: fleet size across, the figure up, a line per series. */
function panel(
  title: string,
  unit: string,
  series: Series[],
  left: number,
  top: number,
  width: number,
  height: number,
): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const out: string[] = [];
  out.push(
    `<text x="${left + width / 2}" y="${top - 12}" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  );
  out.push(
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`,
  );
  if (xs.length === 0 || ys.length === 0) return out.join('\n');
  const xMin = Math.log10(Math.min(...xs)) - 0.15;
  const xMax = Math.log10(Math.max(...xs)) + 0.15;
  const yMin = Math.floor(Math.log10(Math.min(...ys)));
  const yMax = Math.ceil(Math.log10(Math.max(...ys)) + 0.05);
  const px = (v: number) => left + ((Math.log10(v) - xMin) / (xMax - xMin || 1)) * width;
  const py = (v: number) =>
    top + height - ((Math.log10(Math.max(v, 10 ** yMin)) - yMin) / (yMax - yMin || 1)) * height;
  for (let e = yMin; e <= yMax; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < 10 ** yMin || v > 10 ** yMax) continue;
      const y = py(v).toFixed(1);
      out.push(
        `<line x1="${left}" y1="${y}" x2="${left + width}" y2="${y}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${v >= 1 ? v : v.toPrecision(1)}</text>`,
      );
    }
  }
  for (const size of [...new Set(xs)].sort((a, b) => a - b)) {
    const xPos = px(size).toFixed(1);
    out.push(
      `<line x1="${xPos}" y1="${top}" x2="${xPos}" y2="${top + height}" stroke="#eee"/>`,
      `<text x="${xPos}" y="${top + height + 16}" text-anchor="middle" font-size="11">${size.toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<text x="${left + width / 2}" y="${top + height + 34}" text-anchor="middle" font-size="12">devices (log scale)</text>`,
    `<text x="${left - 44}" y="${top + height / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${left - 44} ${top + height / 2})">${escapeXml(unit)} (log scale)</text>`,
  );
  series.forEach((s, i) => {
    const points = s.points.filter((p) => p[1] > 0).sort((a, b) => a[0] - b[0]);
    const path = points.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    out.push(
      `<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const p of points) {
      out.push(
        `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3.5" fill="${s.color}"/>`,
      );
    }
    const ly = top + 16 + i * 16;
    out.push(
      `<line x1="${left + 10}" y1="${ly}" x2="${left + 34}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${left + 40}" y="${ly}" dominant-baseline="middle" font-size="11">${escapeXml(s.label)}</text>`,
    );
  });
  return out.join('\n');
}

export function renderChart(results: StoredResults): string {
  const sizes = results.sizes;
  const time: Series[] = [
    {
      label: 'collector wall',
      color: '#c0392b',
      points: sizes.map((r) => [r.devices, r.wallMs / 1000]),
    },
    {
      label: 'collector CPU',
      color: '#e67e22',
      points: sizes.map((r) => [r.devices, r.cpuMs / 1000]),
    },
    {
      label: 'SDK floor wall',
      color: '#2471a3',
      dashed: true,
      points: sizes.map((r) => [r.devices, r.sdkFloorMs / 1000]),
    },
    {
      label: 'network floor',
      color: '#27ae60',
      dashed: true,
      points: sizes.map((r) => [r.devices, r.networkFloorMs / 1000]),
    },
  ];
  const memory: Series[] = [
    {
      label: 'collector peak RSS',
      color: '#c0392b',
      points: sizes.map((r) => [r.devices, r.peakRssBytes / 1024 / 1024]),
    },
    {
      label: 'SDK floor peak RSS',
      color: '#2471a3',
      dashed: true,
      points: sizes.map((r) => [r.devices, r.sdkFloorPeakRssBytes / 1024 / 1024]),
    },
  ];
  const width = 960;
  const height = 400;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    panel('Time against fleet size', 'seconds', time, 80, 50, 370, 280),
    panel('Peak memory against fleet size', 'MB resident', memory, 570, 50, 370, 280),
    `<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(
      `npm run bench; latency ${sizes[0]?.latencyMs ?? '-'} ms per request; ${sizes[0]?.servers ?? '-'} MDM servers`,
    )}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
