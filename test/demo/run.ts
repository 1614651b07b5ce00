/**
 * The quick start: a sandbox of Apple Business Manager on loopback, the same
 * collection `npm start` runs (the j1-integration CLI, schema validation on),
 * the graph rendered to .j1-integration/index.html, and counts per type.
 * Needs no Apple account and leaves any .env alone: the sandbox's credentials
 * go to the collector through its environment only.
 */
import { spawn } from 'child_process';
import path from 'path';

import { readGraph } from '../helpers/graph';
import { sandboxEnv } from '../helpers/sandboxEnv';
import { startSandbox } from '../sandbox';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'node_modules', '.bin', 'j1-integration');
const STORAGE = path.join(ROOT, '.j1-integration');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(new Error(`j1-integration ${args[0]} exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

async function main(): Promise<void> {
  const devices = Number(process.env.DEMO_DEVICES ?? 3000);
  const sandbox = await startSandbox({ devices, servers: 8, seed: 1 });
  console.log(
    `Sandbox of Apple Business Manager at ${sandbox.apiBaseUrl} with ${devices} devices.`,
  );
  const started = Date.now();
  try {
    const env = {
      ...process.env,
      ...sandboxEnv(sandbox),
      JUPITERONE_INTEGRATION_STORAGE_DIRECTORY: STORAGE,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    };
    console.log('Collecting with `j1-integration collect` (the same path as `npm start`)...');
    await run(['collect'], env);
    console.log('Rendering the graph with `j1-integration visualize`...');
    await run(['visualize', '--data-dir', STORAGE], env);
  } finally {
    await sandbox.stop();
  }

  const { entities, relationships } = await readGraph(STORAGE);
  const counts = new Map<string, number>();
  for (const object of [...entities, ...relationships]) {
    counts.set(object._type, (counts.get(object._type) ?? 0) + 1);
  }
  console.log(`\nCollected in ${((Date.now() - started) / 1000).toFixed(1)} s:`);
  for (const [type, count] of [...counts].sort()) {
    console.log(`  ${String(count).padStart(7)}  ${type}`);
  }
  console.log(`\nThe graph: ${path.join(STORAGE, 'index.html')} (open it in a browser).`);
  console.log(`The raw output: ${path.join(STORAGE, 'graph')} and summary.json beside it.`);
}

main().catch((err) => {
  console.error(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
