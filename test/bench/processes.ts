/**
 * The benchmark's child processes: the sandbox (its own process, started
 * through its CLI with --json), the collector (`j1-integration collect`, as
 * `npm start` runs it) and the SDK floor. Every child is bounded in time and
 * killed when the benchmark exits, whatever the reason.
 */
import { ChildProcess, spawn } from 'child_process';
import { createWriteStream, promises as fs } from 'fs';
import http from 'http';
import path from 'path';
import { performance } from 'perf_hooks';

import type { SandboxStats } from '../sandbox/types';
import { readStepTimes, StepTimes } from './steps';

export const ROOT = path.resolve(__dirname, '..', '..');
export const PROBE = path.join(__dirname, 'probe.js');
const TS_NODE = require.resolve('ts-node/register/transpile-only', { paths: [ROOT] });
const SANDBOX_CLI = path.join(ROOT, 'test', 'sandbox', 'cli.ts');
const FLOOR_ENTRY = path.join(__dirname, 'sdk-floor.ts');
const J1_CLI = path.join(
  ROOT,
  'node_modules',
  '@jupiterone',
  'integration-sdk-cli',
  'bin',
  'j1-integration',
);

const live = new Set<ChildProcess>();

/** When set, measured processes write V8 CPU profiles (`--cpu-prof`) beside their logs. */
let profiling = false;
export function enableCpuProfiles(): void {
  profiling = true;
}

/** Extra Node/V8 flags for both measured processes (diagnostics such as --trace-gc-nvp). */
let nodeFlags: string[] = [];
export function setNodeFlags(flags: string[]): void {
  nodeFlags = [...flags];
}

function killAll(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  }
}
let cleanupInstalled = false;

/** Kills every child still running when this process ends, however it ends. */
function track(child: ChildProcess): void {
  live.add(child);
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Figures the probe writes for a measured process. */
export interface ProbeFigures {
  exitCode: number;
  uptimeMs: number;
  userCpuMs: number;
  systemCpuMs: number;
  peakRssBytes: number;
  peakRssSampledBytes: number;
  peakHeapUsedBytes: number;
  peakHeapTotalBytes: number;
  peakExternalBytes: number;
  /** Highest MB committed and used by each V8 heap space. */
  heapSpacePeaks?: Record<string, { sizeMB: number; usedMB: number }>;
  /** Page faults over the process's life (fresh memory touched: heap growth, large buffers). */
  minorPageFaults?: number;
  majorPageFaults?: number;
  /**
   * The main thread's time: busy running JavaScript (start-up included: everything until the
   * event loop started counts as busy) and idle, its event loop waiting for the network, a
   * timer or a file.
   */
  mainThread?: { busyMs: number; idleMs: number };
}

export interface Measured {
  /** From spawn to exit, as the parent saw it. */
  wallMs: number;
  probe: ProbeFigures;
  logFile: string;
  /** Execution and step times from the process's log; undefined if the log lacks them. */
  steps?: StepTimes;
}

/** Environment for a child: the parent's, minus anything that configures a collection or the probe. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of [
    'CLIENT_ID',
    'KEY_ID',
    'PRIVATE_KEY',
    'API_BASE_URL',
    'TOKEN_URL',
    'BENCH_PROBE_OUT',
    'BENCH_FLOOR_INPUT',
    'ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION',
    'JUPITERONE_INTEGRATION_STORAGE_DIRECTORY',
    'NODE_OPTIONS',
  ]) {
    delete env[name];
  }
  return env;
}

/** Runs a measured child to its end (or kills it at the deadline) and reads its probe file. */
async function measure(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; label: string },
): Promise<Measured> {
  const probeFile = path.join(options.cwd, `${options.label}.probe.json`);
  const logFile = path.join(options.cwd, `${options.label}.log`);
  await fs.rm(probeFile, { force: true });
  const log = createWriteStream(logFile);
  await new Promise<void>((resolve, reject) => {
    log.once('open', () => resolve());
    log.once('error', reject);
  });
  const started = performance.now();
  const profileFlags = profiling
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.cwd, 'cpu-prof')}`]
    : [];
  const child = spawn(process.execPath, [...profileFlags, ...nodeFlags, '-r', PROBE, ...args], {
    cwd: options.cwd,
    env: { ...options.env, BENCH_PROBE_OUT: probeFile },
    stdio: ['ignore', log, log],
  });
  track(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode) => resolve(exitCode));
  }).finally(() => {
    clearTimeout(timer);
    live.delete(child);
  });
  const wallMs = performance.now() - started;
  await new Promise<void>((resolve) => log.end(() => resolve()));
  if (timedOut) {
    throw new Error(
      `${options.label} did not finish within ${options.timeoutMs} ms; log: ${logFile}`,
    );
  }
  if (code !== 0) {
    const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).slice(-3000);
    throw new Error(`${options.label} exited with ${code}; log: ${logFile}\n${tail}`);
  }
  const probe = JSON.parse(await fs.readFile(probeFile, 'utf8')) as ProbeFigures;
  const steps = readStepTimes(await fs.readFile(logFile, 'utf8'));
  return { wallMs, probe, logFile, steps };
}

/**
 * A project directory whose `src` is this repository's (or a candidate's, to
 * measure a proposed change): `collect --project-path` writes beside it.
 */
export async function makeProjectDir(
  parent: string,
  prefix: string,
  srcDir = path.join(ROOT, 'src'),
): Promise<string> {
  await fs.mkdir(parent, { recursive: true });
  const dir = await fs.mkdtemp(path.join(parent, prefix));
  await fs.symlink(path.resolve(srcDir), path.join(dir, 'src'), 'dir');
  return dir;
}

export interface SandboxEndpoints {
  apiBaseUrl: string;
  tokenUrl: string;
  credentials: { clientId: string; keyId: string; privateKey: string };
}

export interface SandboxProcess extends SandboxEndpoints {
  stats(): Promise<SandboxStats>;
  stop(): Promise<void>;
}

export interface SandboxFlags {
  devices: number;
  servers: number;
  seed: number;
  latencyMs: number;
  jitterMs: number;
  rps?: number;
}

/** Starts `test/sandbox/cli.ts --json` in its own process and reads its one JSON line. */
export async function startSandboxProcess(
  flags: SandboxFlags,
  timeoutMs: number,
): Promise<SandboxProcess> {
  const args = [
    '-r',
    TS_NODE,
    SANDBOX_CLI,
    '--json',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--devices',
    String(flags.devices),
    '--servers',
    String(flags.servers),
    '--seed',
    String(flags.seed),
    '--latency',
    String(flags.latencyMs),
    '--jitter',
    String(flags.jitterMs),
    ...(flags.rps !== undefined ? ['--rps', String(flags.rps)] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: baseEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the sandbox printed nothing within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox exited with ${code} before printing its endpoints: ${stderr}`));
    });
  });
  const endpoints = JSON.parse(line) as SandboxEndpoints;
  return {
    ...endpoints,
    stats: () => getJson<SandboxStats>(`${endpoints.apiBaseUrl}/__sandbox/stats`),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      live.delete(child);
    },
  };
}

function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (err) {
          reject(err);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url}`)));
    request.on('error', reject);
  });
}

/** `j1-integration collect`, as `npm start` runs it, configured through its environment only. */
export function runCollector(
  projectDir: string,
  sandbox: SandboxEndpoints,
  timeoutMs: number,
): Promise<Measured> {
  return measure([J1_CLI, 'collect', '--project-path', projectDir], {
    cwd: projectDir,
    label: 'collector',
    timeoutMs,
    env: {
      ...baseEnv(),
      CLIENT_ID: sandbox.credentials.clientId,
      KEY_ID: sandbox.credentials.keyId,
      PRIVATE_KEY: sandbox.credentials.privateKey,
      API_BASE_URL: sandbox.apiBaseUrl,
      TOKEN_URL: sandbox.tokenUrl,
      // `npm start` runs from the repository, where ts-node finds this tsconfig.
      TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'),
    },
  });
}

/** A project directory for the SDK floor: its `src/index.ts` re-exports sdk-floor.ts's config. */
export async function makeFloorProjectDir(parent: string): Promise<string> {
  await fs.mkdir(parent, { recursive: true });
  const dir = await fs.mkdtemp(path.join(parent, 'floor-'));
  await fs.mkdir(path.join(dir, 'src'));
  const target = JSON.stringify(FLOOR_ENTRY.replace(/\.ts$/, ''));
  await fs.writeFile(
    path.join(dir, 'src', 'index.ts'),
    `export { invocationConfig } from ${target};\n`,
  );
  return dir;
}

/** The SDK floor (sdk-floor.ts) through the same `j1-integration collect`, in its own measured process. */
export function runSdkFloor(
  projectDir: string,
  input: object,
  timeoutMs: number,
): Promise<Measured> {
  return measure([J1_CLI, 'collect', '--project-path', projectDir], {
    cwd: projectDir,
    label: 'sdk-floor',
    timeoutMs,
    env: {
      ...baseEnv(),
      BENCH_FLOOR_INPUT: JSON.stringify(input),
      TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json'),
    },
  });
}
