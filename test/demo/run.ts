/**
 * The quick start: a sandbox of Apple Business Manager on loopback, the same
 * collection `npm start` runs (the j1-integration CLI, schema validation on),
 * the graph rendered to .j1-integration/index.html, and counts per type.
 *
 * Needs no Apple account and leaves any .env alone: the sandbox's credentials
 * reach the collector through its environment only, and every optional
 * setting is set empty there, so the CLI's dotenv (which never overrides a
 * variable that is already set) cannot bring in a user's ORGANIZATION_*,
 * RETRY_BUDGET_SECONDS and the like from .env.
 *
 * Environment: DEMO_DEVICES (fleet size, default 3000); LOG_LEVEL (the
 * collector's log level, default warn; when set, the collector's log is shown,
 * and info adds progress and the closing summary to it);
 * DEMO_PROJECT_PATH (the project directory the CLI runs in and writes
 * .j1-integration to, default this repository; the demo's test points it at a
 * scratch directory so it does not overwrite your last collection).
 */
import { spawn } from 'child_process';
import { promises as fs } from 'fs';
import path from 'path';

import { instanceConfigFields } from '../../src/config';
import { readGraph } from '../helpers/graph';
import { sandboxEnv } from '../helpers/sandboxEnv';
import { startSandbox } from '../sandbox';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'node_modules', '.bin', 'j1-integration');
const DEFAULT_DEVICES = 3000;
const SERVERS = 8;

/** The part of `.j1-integration/summary.json` the demo checks. */
export interface CollectionSummary {
  integrationStepResults: Array<{ id: string; status: string }>;
  metadata: { partialDatasets: { types: string[] } };
}

/**
 * Why a collection cannot be called complete, from its summary.json; empty
 * when every step succeeded. The CLI exits 0 even when a step fails, so this
 * is the only place a failed step shows.
 */
export function summaryProblems(summary: CollectionSummary | undefined): string[] {
  if (!summary) return ['the collection wrote no summary.json'];
  const problems: string[] = [];
  for (const step of summary.integrationStepResults ?? []) {
    if (step.status !== 'success') problems.push(`step ${step.id} ended with "${step.status}"`);
  }
  const partial = summary.metadata?.partialDatasets?.types ?? [];
  if (partial.length > 0) problems.push(`partial datasets: ${partial.join(', ')}`);
  return problems;
}

/** The environment variable the SDK reads a config field from (`retryBudgetSeconds` -> `RETRY_BUDGET_SECONDS`). */
export function envNameOf(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Every optional config field the sandbox does not set, as an empty value: the
 * collector reads an empty value as unset, and dotenv leaves a set variable alone.
 */
export function blankOptionalSettings(given: Record<string, string>): Record<string, string> {
  const blanks: Record<string, string> = {};
  for (const [field, spec] of Object.entries(instanceConfigFields)) {
    const name = envNameOf(field);
    // The SDK reads a boolean field strictly (true or false); an empty value would be refused.
    if (spec.optional && !(name in given)) blanks[name] = spec.type === 'boolean' ? 'false' : '';
  }
  return blanks;
}

/** Runs the CLI; its output is kept for an error message, and shown as it comes when `echo` is set. */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv, echo = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk;
      if (echo) process.stdout.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else
        reject(new Error(`j1-integration ${args[0]} exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

async function readSummary(storage: string): Promise<CollectionSummary | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(storage, 'summary.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const devices = Number(process.env.DEMO_DEVICES || DEFAULT_DEVICES);
  if (!Number.isInteger(devices) || devices < 1) {
    throw new Error(
      `DEMO_DEVICES must be a whole number of at least 1, got "${process.env.DEMO_DEVICES}"`,
    );
  }
  const project = path.resolve(process.env.DEMO_PROJECT_PATH || ROOT);
  if (!(await fs.stat(path.join(project, 'src')).catch(() => undefined))?.isDirectory()) {
    throw new Error(
      `DEMO_PROJECT_PATH "${project}" has no src/ directory: the collector loads the integration from <project>/src`,
    );
  }
  // `j1-integration collect` always writes to <project path>/.j1-integration.
  const storage = path.join(project, '.j1-integration');

  const sandbox = await startSandbox({ devices, servers: SERVERS, seed: 1 });
  console.log(
    `Sandbox of Apple Business Manager at ${sandbox.apiBaseUrl} with ${devices} devices.`,
  );
  const started = Date.now();
  let output: string;
  try {
    const credentials = sandboxEnv(sandbox);
    const env = {
      ...process.env,
      ...blankOptionalSettings(credentials),
      ...credentials,
      LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
      // The SDK loads the AWS SDK v2, whose end-of-support notice would bury a real error.
      AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
    };
    console.log('Collecting with `j1-integration collect` (the same path as `npm start`)...');
    // A LOG_LEVEL the user chose means they want to see the collector's log, so it is shown.
    output = await run(
      ['collect', '--project-path', project],
      project,
      env,
      Boolean(process.env.LOG_LEVEL),
    );
  } finally {
    await sandbox.stop();
  }
  const problems = summaryProblems(await readSummary(storage));
  if (problems.length > 0) {
    throw new Error(
      `the collection did not complete: ${problems.join('; ')}.\nThe collector said:\n${output.slice(-4000)}`,
    );
  }
  console.log('Rendering the graph with `j1-integration visualize`...');
  const picture = path.join(storage, 'index.html');
  await run(
    ['visualize', '--data-dir', path.join(storage, 'graph'), '--output-file', picture],
    project,
    process.env,
  );

  const { entities, relationships } = await readGraph(storage);
  const counts = new Map<string, number>();
  for (const object of [...entities, ...relationships]) {
    counts.set(object._type, (counts.get(object._type) ?? 0) + 1);
  }
  console.log(`\nCollected in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
  for (const [type, count] of [...counts].sort()) {
    console.log(`  ${String(count).padStart(7)}  ${type}`);
  }
  console.log(`\nThe graph: ${picture} (open it in a browser).`);
  console.log(`The raw output: ${path.join(storage, 'graph')} and summary.json beside it.`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
