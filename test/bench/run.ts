/**
 * `npm run bench -- [options]`: collection at fleet scale against the sandbox,
 * beside floors measured in the same run. See docs/performance.md.
 */
import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { materializeBase, renderComparison, runPairs } from './compare';
import { runScenario, ScenarioOptions, ScenarioResult } from './pipeline';
import { enableCpuProfiles, ROOT, setNodeFlags } from './processes';
import {
  headlineRatio,
  medianRun,
  merge,
  renderChart,
  renderTables,
  StoredResult,
  StoredResults,
  toStored,
  updateDocument,
} from './report';

const USAGE = `Usage: npm run bench -- [options]
  --sizes N,N,...      fleet sizes (default 10000,100000; 1000000 on request)
  --servers N          MDM servers (default 20)
  --latency MS         sandbox latency per request (default 25)
  --jitter MS          extra random latency up to MS (default 0)
  --seed N             fleet seed (default 1)
  --rps N              allowed requests per second in the rate-limited scenario (default 20)
  --rps-devices N      fleet of the rate-limited scenario (default 10000)
  --rps-servers N      MDM servers of the rate-limited scenario (default 600)
  --no-rate            skip the rate-limited scenario
  --only-rate          run only the rate-limited scenario
  --quick              10,000 devices, rate-limited scenario at 200 servers; implies --no-doc
  --no-doc             print only; leave docs/ and results.json alone
  --keep               keep the collected graphs and logs (under --work-dir)
  --work-dir DIR       temporary project directories (default: the OS temp dir)
  --repeat N           run each scenario N times: report the median run, with each ratio's
                       lowest and highest over the runs (default 1)
  --src DIR            measure another copy of src/ (a candidate change); implies --no-doc
  --compare BASE       alternating pairs of runs, this src/ (or --src) against BASE: a git
                       revision of this repository, or a directory holding a copy of src/;
                       prints each figure's medians, the median of the pairs' differences and
                       their range; implies --no-doc
  --pairs N            pairs of runs for --compare, at each size (default 5)
  --cpu-prof           write V8 CPU profiles of the collector and the SDK floor; implies --keep
                       and --no-doc (profiling slows both down)
  --node-flag FLAG     pass a Node/V8 flag to both measured processes, e.g. --trace-gc-nvp (output
                       in their logs); repeatable; implies --keep and --no-doc
  --help`;

interface Args {
  sizes: number[];
  servers: number;
  latencyMs: number;
  jitterMs: number;
  seed: number;
  rps: number;
  rpsDevices: number;
  rpsServers: number;
  rate: boolean;
  sizesToo: boolean;
  doc: boolean;
  keep: boolean;
  workDir?: string;
  srcDir?: string;
  compare?: string;
  pairs: number;
  repeat: number;
  cpuProf: boolean;
  nodeFlags: string[];
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

export function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: [10_000, 100_000],
    servers: 20,
    latencyMs: 25,
    jitterMs: 0,
    seed: 1,
    rps: 20,
    rpsDevices: 10_000,
    rpsServers: 600,
    rate: true,
    sizesToo: true,
    doc: true,
    keep: false,
    pairs: 5,
    repeat: 1,
    cpuProf: false,
    nodeFlags: [],
  };
  const number = (flag: string, value: string | undefined): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isFinite(parsed) || parsed < 0) {
      fail(`${flag} needs a non-negative number`);
    }
    return parsed;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--sizes':
        args.sizes = (argv[++i] ?? '').split(',').map((v) => number(flag, v.replace(/_/g, '')));
        if (args.sizes.some((v) => v < 1)) fail('--sizes needs positive numbers');
        break;
      case '--servers':
        args.servers = number(flag, argv[++i]);
        break;
      case '--latency':
        args.latencyMs = number(flag, argv[++i]);
        break;
      case '--jitter':
        args.jitterMs = number(flag, argv[++i]);
        break;
      case '--seed':
        args.seed = number(flag, argv[++i]);
        break;
      case '--rps':
        args.rps = number(flag, argv[++i]);
        if (args.rps <= 0) fail('--rps needs a positive number');
        break;
      case '--rps-devices':
        args.rpsDevices = number(flag, argv[++i]);
        break;
      case '--rps-servers':
        args.rpsServers = number(flag, argv[++i]);
        break;
      case '--no-rate':
        args.rate = false;
        break;
      case '--only-rate':
        args.sizesToo = false;
        break;
      case '--quick':
        args.sizes = [10_000];
        args.rpsServers = 200;
        // A quick look, not the record: the rate-limited row would be a different scenario.
        args.doc = false;
        break;
      case '--no-doc':
        args.doc = false;
        break;
      case '--keep':
        args.keep = true;
        break;
      case '--work-dir':
        args.workDir = argv[++i] ?? fail('--work-dir needs a directory');
        break;
      case '--repeat':
        args.repeat = Math.max(1, Math.floor(number(flag, argv[++i])));
        break;
      case '--src':
        args.srcDir = argv[++i] ?? fail('--src needs a directory');
        args.doc = false;
        break;
      case '--compare':
        args.compare = argv[++i] ?? fail('--compare needs a git revision or a directory');
        args.doc = false;
        break;
      case '--pairs':
        args.pairs = Math.floor(number(flag, argv[++i]));
        if (args.pairs < 1) fail('--pairs needs a positive number');
        break;
      case '--cpu-prof':
        args.cpuProf = true;
        args.keep = true;
        args.doc = false;
        break;
      case '--node-flag':
        args.nodeFlags.push(argv[++i] ?? fail('--node-flag needs a flag'));
        args.keep = true;
        args.doc = false;
        break;
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option ${flag}`);
    }
  }
  if (args.compare !== undefined && args.repeat > 1) {
    fail('--compare runs pairs (--pairs N), not --repeat');
  }
  return args;
}

/** Bound for one child process: generous, but a hung run still ends. */
function timeoutFor(devices: number): number {
  return 120_000 + devices * 3;
}

const RESULTS_FILE = path.join(__dirname, 'results.json');
const DOC_FILE = path.join(ROOT, 'docs', 'performance.md');
const CHART_FILE = path.join(ROOT, 'docs', 'performance.svg');

/** `text` as the repository's formatter writes `file`, so `npm run format:check` passes after a run. */
async function formatted(text: string, file: string): Promise<string> {
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...config, filepath: file });
}

async function readStored(): Promise<StoredResults> {
  try {
    return JSON.parse(await fs.readFile(RESULTS_FILE, 'utf8')) as StoredResults;
  } catch {
    return { sizes: [] };
  }
}

/**
 * Runs a scenario `times` times; reports the median run (`medianRun`) with
 * every run's ratios beside it.
 */
async function repeated(
  times: number,
  log: (line: string) => void,
  run: () => Promise<ScenarioResult>,
): Promise<StoredResult> {
  const runs: ScenarioResult[] = [];
  for (let i = 0; i < times; i++) runs.push(await run());
  const kept = medianRun(runs);
  if (times > 1) {
    const ratios = runs.map(headlineRatio).sort((a, b) => a - b);
    log(`kept the median of ${times} runs: ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  }
  return toStored(kept, new Date(), runs);
}

function economyLine(label: string, result: StoredResult): string {
  const verdict = result.economyPass ? 'PASS' : 'FAIL';
  const detail = result.economyPass
    ? `${result.requests.total} requests = minimal ${result.minimalRequests}, no page twice, ${result.devicesInGraph} devices in the graph`
    : result.economyProblems.join('; ');
  return `Request economy [${label}]: ${verdict} (${detail})`;
}

/** Writes results.json, the tables in docs/performance.md and the chart. */
async function writeRecord(shown: StoredResults): Promise<void> {
  await fs.writeFile(RESULTS_FILE, await formatted(JSON.stringify(shown), RESULTS_FILE));
  const document = await fs.readFile(DOC_FILE, 'utf8').catch(() => '# Performance\n');
  await fs.writeFile(
    DOC_FILE,
    await formatted(updateDocument(document, renderTables(shown)), DOC_FILE),
  );
  await fs.writeFile(CHART_FILE, renderChart(shown));
  console.log(
    `\nUpdated ${path.relative(ROOT, DOC_FILE)}, ${path.relative(ROOT, CHART_FILE)} and ${path.relative(ROOT, RESULTS_FILE)}.`,
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.cpuProf) enableCpuProfiles();
  setNodeFlags(args.nodeFlags);
  const workDir = args.workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'abm-bench-')));
  const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
  let allPass = true;

  const scenarios: Array<{ label: string; rate: boolean; options: ScenarioOptions }> = [];
  if (args.sizesToo) {
    for (const devices of args.sizes) {
      scenarios.push({
        label: `${devices} devices`,
        rate: false,
        options: {
          devices,
          servers: args.servers,
          seed: args.seed,
          latencyMs: args.latencyMs,
          jitterMs: args.jitterMs,
          workDir,
          srcDir: args.srcDir,
          keep: args.keep,
          timeoutMs: timeoutFor(devices),
          log,
        },
      });
    }
  }
  if (args.rate) {
    scenarios.push({
      label: `rate-limited, ${args.rps} rps`,
      rate: true,
      options: {
        devices: args.rpsDevices,
        servers: args.rpsServers,
        seed: args.seed,
        latencyMs: args.latencyMs,
        jitterMs: args.jitterMs,
        rps: args.rps,
        workDir,
        srcDir: args.srcDir,
        keep: args.keep,
        timeoutMs: timeoutFor(args.rpsDevices) + (args.rpsServers * 1000) / args.rps,
        log,
      },
    });
  }

  if (args.compare !== undefined) {
    const baseSrc = await materializeBase(args.compare, workDir).catch((err: Error) =>
      fail(err.message),
    );
    const changeSrc = args.srcDir ?? path.join(ROOT, 'src');
    log(`comparing ${changeSrc} against ${args.compare} (${baseSrc})`);
    const reports: string[] = [];
    for (const scenario of scenarios) {
      const pairs = await runPairs(
        args.pairs,
        changeSrc,
        baseSrc,
        (srcDir) => runScenario({ ...scenario.options, srcDir }),
        log,
      );
      reports.push(renderComparison(scenario.label, pairs));
      allPass &&= pairs.every((p) => p.change.economyPass && p.base.economyPass);
    }
    console.log(`\n${reports.join('\n\n')}`);
  } else {
    const update: StoredResults = { sizes: [] };
    const economyLines: string[] = [];
    for (const scenario of scenarios) {
      const result = await repeated(args.repeat, log, () => runScenario(scenario.options));
      if (scenario.rate) update.rateLimited = result;
      else update.sizes.push(result);
      economyLines.push(economyLine(scenario.label, result));
      allPass &&= result.economyPass;
    }
    const shown = args.doc ? merge(await readStored(), update) : update;
    console.log(`\n${renderTables(shown)}\n`);
    for (const line of economyLines) console.log(line);
    if (args.doc) await writeRecord(shown);
  }

  if (!args.keep && !args.workDir) await fs.rm(workDir, { recursive: true, force: true });
  if (args.keep) console.log(`Graphs and logs kept under ${workDir}.`);
  if (!allPass) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  });
}
