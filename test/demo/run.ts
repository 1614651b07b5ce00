/**
 * The quick start: a sandbox of Apple Business Manager on loopback, the same
 * collection `npm start` runs (test/start/run.ts around the j1-integration
 * CLI, schema validation on),
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

import { FIELD_ENV, instanceConfigFields } from '../../src/config';
import { readGraph } from '../helpers/graph';
import { sandboxEnv } from '../helpers/sandboxEnv';
import { readSummary, summaryProblems } from '../helpers/summary';
import { startSandbox } from '../sandbox';
import { EXIT_NOT_RUN } from '../start/run';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'node_modules', '.bin', 'j1-integration');
/** `npm start`, as package.json runs it. */
const START = [
  process.execPath,
  '-r',
  require.resolve('ts-node/register/transpile-only', { paths: [ROOT] }),
  path.join(ROOT, 'test', 'start', 'run.ts'),
];
const DEFAULT_DEVICES = 3000;
const SERVERS = 8;

/**
 * Every optional config field the sandbox does not set, as an empty value: the
 * collector reads an empty value as unset, and dotenv leaves a set variable alone.
 */
export function blankOptionalSettings(given: Record<string, string>): Record<string, string> {
  const blanks: Record<string, string> = {};
  for (const [field, spec] of Object.entries(instanceConfigFields)) {
    const name = FIELD_ENV[field as keyof typeof FIELD_ENV];
    if (spec.optional && !(name in given)) blanks[name] = '';
  }
  return blanks;
}

/**
 * Runs a command; its output is kept for an error message, and shown as it
 * comes when `echo` is set.
 */
function run(
  command: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  echo = false,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk;
      if (echo) process.stdout.write(chunk);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
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
  let collected: { code: number | null; output: string };
  try {
    const credentials = sandboxEnv(sandbox);
    const env = {
      ...process.env,
      ...blankOptionalSettings(credentials),
      ...credentials,
      LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
      // ts-node looks for a tsconfig.json from the project directory up; one outside this
      // repository without its own would compile `src/` with TypeScript's defaults, which refuse
      // this project's settings (TS5109; found by a review).
      ...(process.env.TS_NODE_PROJECT ||
      (await fs.stat(path.join(project, 'tsconfig.json')).catch(() => undefined))
        ? {}
        : { TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') }),
    };
    console.log('Collecting the way `npm start` does...');
    // A LOG_LEVEL the user chose means they want to see the collector's log, so it is shown.
    collected = await run(
      [...START, '--project-path', project],
      project,
      env,
      Boolean(process.env.LOG_LEVEL),
    );
  } finally {
    await sandbox.stop();
  }
  const said = collected.output.slice(-4000);
  if (collected.code === EXIT_NOT_RUN || collected.code === null) {
    throw new Error(`the collection did not run (exit ${collected.code}):\n${said}`);
  }
  const problems = summaryProblems(await readSummary(storage));
  if (problems.length > 0) {
    throw new Error(
      `the collection did not complete: ${problems.join('; ')}.\nThe collector said:\n${said}`,
    );
  }
  console.log('Rendering the graph with `j1-integration visualize`...');
  const picture = path.join(storage, 'index.html');
  const drawn = await run(
    [CLI, 'visualize', '--data-dir', path.join(storage, 'graph'), '--output-file', picture],
    project,
    process.env,
  );
  if (drawn.code !== 0) {
    throw new Error(
      `j1-integration visualize exited with ${drawn.code}:\n${drawn.output.slice(-4000)}`,
    );
  }

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
