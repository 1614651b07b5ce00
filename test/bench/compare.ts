/**
 * `npm run bench -- --compare BASE`: alternating runs of this `src/` and a base
 * version of it, summed up pair by pair.
 *
 * On a shared machine the same code's wall time moves by 10 to 20% from run to
 * run, and the SDK floor with it, so a change is judged by pairs run one right
 * after the other: each pair's difference, the median of those differences and
 * how many pairs went the change's way. Within a pair the order alternates
 * (base first, then this first) so that a machine slowing down or speeding up
 * through the session does not favour either side.
 */
import { execFile } from 'child_process';
import { promises as fs } from 'fs';
import path from 'path';
import { promisify } from 'util';

import { Steps } from '../../src/steps/constants';
import { mb, ScenarioResult } from './pipeline';
import { ROOT } from './processes';
import { headlineRatio } from './report';

/** The figures a comparison looks at, of one run. */
export interface ComparedRun {
  wallMs: number;
  /** Wall / max(floors), or wall / rate floor in the rate-limited scenario. */
  ratio: number;
  devicesStepMs?: number;
  assignmentsStepMs?: number;
  cpuMs: number;
  /** The collector's main thread: busy (start-up included) and idle (waiting), if measured. */
  busyMs?: number;
  idleMs?: number;
  /** The collector's page faults: fresh memory it touched (large buffers and strings, heap growth). */
  pageFaults?: number;
  peakRssBytes: number;
  /** Peak RSS / the SDK floor's. */
  memoryRatio: number;
  throttled: number;
  economyPass: boolean;
}

export function comparedRun(result: ScenarioResult): ComparedRun {
  const steps = result.collector.steps?.steps;
  return {
    wallMs: result.collector.wallMs,
    ratio: headlineRatio(result),
    devicesStepMs: steps?.[Steps.DEVICES],
    assignmentsStepMs: steps?.[Steps.DEVICE_ASSIGNMENTS],
    cpuMs: result.collector.cpuMs,
    busyMs: result.collector.probe.mainThread?.busyMs,
    idleMs: result.collector.probe.mainThread?.idleMs,
    pageFaults: result.collector.probe.minorPageFaults,
    peakRssBytes: result.collector.probe.peakRssBytes,
    memoryRatio: result.ratios.memory,
    throttled: result.throttled,
    economyPass: result.economy.pass,
  };
}

/** One run of each side, made one right after the other. */
export interface Pair {
  change: ComparedRun;
  base: ComparedRun;
}

interface Metric {
  label: string;
  value: (run: ComparedRun) => number | undefined;
  format: (value: number) => string;
  signed: (value: number) => string;
}

/** `value` with `digits` decimals and its sign; a value that rounds to zero has none. */
function signed(value: number, digits: number): string {
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${value > 0 ? '+' : '-'}${text}`;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const signedSeconds = (ms: number) => signed(ms / 1000, 2);
const ratio = (r: number) => `${r.toFixed(2)}x`;
const signedRatio = (r: number) => signed(r, 3);
const signedMegabytes = (bytes: number) => signed(bytes / 1024 / 1024, 0);
const count = (n: number) => String(n);
const signedCount = (n: number) => signed(n, 1).replace(/\.0$/, '');

const METRICS: Metric[] = [
  { label: 'wall s', value: (r) => r.wallMs, format: seconds, signed: signedSeconds },
  { label: 'wall / floor', value: (r) => r.ratio, format: ratio, signed: signedRatio },
  {
    label: 'devices step s',
    value: (r) => r.devicesStepMs,
    format: seconds,
    signed: signedSeconds,
  },
  {
    label: 'assignments step s',
    value: (r) => r.assignmentsStepMs,
    format: seconds,
    signed: signedSeconds,
  },
  { label: 'collector CPU s', value: (r) => r.cpuMs, format: seconds, signed: signedSeconds },
  { label: 'main thread busy s', value: (r) => r.busyMs, format: seconds, signed: signedSeconds },
  { label: 'main thread idle s', value: (r) => r.idleMs, format: seconds, signed: signedSeconds },
  {
    label: 'collector page faults',
    value: (r) => r.pageFaults,
    format: count,
    signed: signedCount,
  },
  {
    label: 'peak RSS MB',
    value: (r) => r.peakRssBytes,
    format: mb,
    signed: signedMegabytes,
  },
  { label: 'RSS / SDK RSS', value: (r) => r.memoryRatio, format: ratio, signed: signedRatio },
  { label: '429s', value: (r) => r.throttled, format: count, signed: signedCount },
];

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One line of the summary: a figure's median on each side, and its pairs' differences. */
export interface MetricSummary {
  label: string;
  changeMedian: number;
  baseMedian: number;
  /** Median of (change - base) over the pairs. */
  medianDifference: number;
  /** The lowest and highest of (change - base): a median within them by far is noise. */
  lowestDifference: number;
  highestDifference: number;
  /** Pairs where the change's figure was lower, higher, the same. */
  lower: number;
  higher: number;
  same: number;
  pairs: number;
}

/** Every figure that both sides of at least one pair have. */
export function summarize(pairs: Pair[]): MetricSummary[] {
  const summaries: MetricSummary[] = [];
  for (const metric of METRICS) {
    const both = pairs
      .map((p) => [metric.value(p.change), metric.value(p.base)])
      .filter((v): v is [number, number] => v[0] !== undefined && v[1] !== undefined);
    if (both.length === 0) continue;
    const differences = both.map(([change, base]) => change - base);
    summaries.push({
      label: metric.label,
      changeMedian: median(both.map(([change]) => change)),
      baseMedian: median(both.map(([, base]) => base)),
      medianDifference: median(differences),
      lowestDifference: Math.min(...differences),
      highestDifference: Math.max(...differences),
      lower: differences.filter((d) => d < 0).length,
      higher: differences.filter((d) => d > 0).length,
      same: differences.filter((d) => d === 0).length,
      pairs: both.length,
    });
  }
  return summaries;
}

/** The summary as a markdown table, with each side's ratios in the order measured. */
export function renderComparison(title: string, pairs: Pair[]): string {
  const byLabel = new Map(METRICS.map((m) => [m.label, m]));
  const lines = [
    `### ${title}: ${pairs.length} alternating pair${pairs.length === 1 ? '' : 's'}`,
    '',
    '| figure | this src, median | base, median | difference, median of pairs | lowest to highest | this src lower in |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const s of summarize(pairs)) {
    const metric = byLabel.get(s.label) as Metric;
    lines.push(
      `| ${s.label} | ${metric.format(s.changeMedian)} | ${metric.format(s.baseMedian)} | ${metric.signed(s.medianDifference)} | ${metric.signed(s.lowestDifference)} to ${metric.signed(s.highestDifference)} | ${s.lower} of ${s.pairs} |`,
    );
  }
  lines.push(
    '',
    `Ratios, this src: ${pairs.map((p) => ratio(p.change.ratio)).join(', ')}`,
    `Ratios, base:     ${pairs.map((p) => ratio(p.base.ratio)).join(', ')}`,
  );
  const failed = pairs.filter((p) => !p.change.economyPass || !p.base.economyPass).length;
  if (failed > 0) lines.push(`Request economy FAILED in ${failed} of ${pairs.length} pairs.`);
  return lines.join('\n');
}

/**
 * Runs `pairs` pairs, alternating which side goes first. `run(srcDir)` measures
 * one run with that copy of `src/`.
 */
export async function runPairs(
  pairs: number,
  changeSrc: string,
  baseSrc: string,
  run: (srcDir: string) => Promise<ScenarioResult>,
  log: (line: string) => void,
): Promise<Pair[]> {
  const done: Pair[] = [];
  for (let i = 0; i < pairs; i++) {
    const baseFirst = i % 2 === 0;
    const first = await run(baseFirst ? baseSrc : changeSrc);
    const second = await run(baseFirst ? changeSrc : baseSrc);
    const [base, change] = baseFirst ? [first, second] : [second, first];
    done.push({ change: comparedRun(change), base: comparedRun(base) });
    log(
      `pair ${i + 1} of ${pairs}: wall ${seconds(change.collector.wallMs)} s against ${seconds(base.collector.wallMs)} s (base)`,
    );
  }
  return done;
}

const run = promisify(execFile);

/**
 * The base's `src/`: `base` itself when it is a directory holding `index.ts`,
 * otherwise a git revision of this repository, whose `src/` is written under
 * `workDir` beside a link to this checkout's `node_modules` (the base then runs
 * with this checkout's dependencies). Answers the directory to measure.
 */
export async function materializeBase(base: string, workDir: string): Promise<string> {
  const asDirectory = path.resolve(base);
  const isSrc = await fs
    .stat(path.join(asDirectory, 'index.ts'))
    .then((s) => s.isFile())
    .catch(() => false);
  if (isSrc) return asDirectory;

  let commit: string;
  try {
    commit = (
      await run('git', ['rev-parse', '--verify', '--quiet', `${base}^{commit}`], { cwd: ROOT })
    ).stdout.trim();
  } catch {
    throw new Error(
      `--compare ${base}: neither a directory holding a copy of src/ (with its index.ts) nor a git revision of this repository`,
    );
  }
  const project = path.join(workDir, `base-${commit.slice(0, 12)}`);
  await fs.rm(project, { recursive: true, force: true });
  await fs.mkdir(project, { recursive: true });
  const archive = path.join(project, 'src.tar');
  await run('git', ['archive', '--format=tar', `--output=${archive}`, commit, 'src'], {
    cwd: ROOT,
  });
  await run('tar', ['-xf', archive, '-C', project]);
  await fs.rm(archive);
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'), 'dir');
  return path.join(project, 'src');
}
