import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';
import {
  Entity,
  IntegrationInvocationConfig,
  Relationship,
} from '@jupiterone/integration-sdk-core';
import {
  executeIntegrationLocally,
  FileSystemGraphObjectStore,
} from '@jupiterone/integration-sdk-runtime';

import { createInvocationConfig } from '../../src';
import { CollectorRun } from '../../src/run';
import type { Sandbox, SandboxAccount } from '../sandbox';
import { readGraph } from './graph';
import { sandboxEnv } from './sandboxEnv';

export { readGraph } from './graph';
export { sandboxEnv } from './sandboxEnv';

export interface CollectedGraph {
  entities: Entity[];
  relationships: Relationship[];
  /** summary.json, when the run got far enough to write it. */
  summary?: {
    integrationStepResults: Array<{ id: string; status: string; partialTypes: string[] }>;
    metadata: { partialDatasets: { types: string[] } };
  };
  /** What the run threw (validation or authentication errors end a run). */
  error?: Error;
}

export interface CollectOptions {
  account?: SandboxAccount;
  /** Extra or overriding environment, e.g. a broken PRIVATE_KEY. */
  env?: Record<string, string | undefined>;
  /** Passed to createInvocationConfig: short timeouts and backoff keep fault tests quick. */
  collector?: ConstructorParameters<typeof CollectorRun>[1];
  /** The store the runtime writes to (a FileSystemGraphObjectStore, or one that records calls). */
  graphObjectStore?: FileSystemGraphObjectStore;
}

/**
 * Runs the real collection in this process, as `j1-integration collect` does
 * (config from environment variables, schema validation on, a file-system
 * graph store), into a temporary directory that is read and removed.
 */
export async function collectFromSandbox(
  sandbox: Sandbox,
  options: CollectOptions = {},
): Promise<CollectedGraph> {
  return collectWithEnv({
    env: { ...sandboxEnv(sandbox, options.account), ...options.env },
    collector: options.collector,
    graphObjectStore: options.graphObjectStore,
  });
}

/**
 * The same real collection with a configuration of the caller's own, for runs
 * that reach no sandbox (an injected `collector.http.fetch` serving made-up
 * answers, say). `env` holds CLIENT_ID, KEY_ID, PRIVATE_KEY and the rest.
 */
export async function collectWithEnv(
  options: Omit<CollectOptions, 'account'> = {},
): Promise<CollectedGraph> {
  const storageDirectory = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-collect-'));
  const env: Record<string, string | undefined> = {
    JUPITERONE_INTEGRATION_STORAGE_DIRECTORY: storageDirectory,
    DISABLE_DISK_USAGE_METRIC: '1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'fatal',
    ...options.env,
  };
  const saved: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let error: Error | undefined;
  try {
    await executeIntegrationLocally(
      // The runtime's signature is typed for the base config; ours is a subtype.
      createInvocationConfig(options.collector) as unknown as IntegrationInvocationConfig,
      { current: { startedOn: Date.now() } },
      {
        enableSchemaValidation: true,
        graphObjectStore: options.graphObjectStore ?? new FileSystemGraphObjectStore(),
      },
    );
  } catch (err) {
    error = err as Error;
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
  try {
    const graph = await readGraph(storageDirectory);
    // summary.json is missing when the run did not get far enough to write it.
    const summary: CollectedGraph['summary'] = await fs
      .readFile(path.join(storageDirectory, 'summary.json'), 'utf8')
      .then(
        (text) => JSON.parse(text),
        () => undefined,
      );
    return { ...graph, summary, error };
  } finally {
    // Several MB a run, and the suite makes hundreds of runs: nothing of it is kept.
    await fs.rm(storageDirectory, { recursive: true, force: true });
  }
}
