import {
  IntegrationExecutionContext,
  IntegrationInstanceConfig,
  IntegrationLogger,
} from '@jupiterone/integration-sdk-core';

import { AbmClient } from './abm/client';
import { HttpOptions } from './abm/http';
import { AbmConfig, IntegrationConfig, parseConfig } from './config';

/** Knobs for tests and the benchmark; a production run uses the defaults. */
export interface CollectorOptions {
  http?: HttpOptions;
  now?: () => number;
}

/**
 * What one run shares between `validateInvocation` and every step: the parsed
 * configuration and the one API client, so the access token, the learned pace
 * and the in-flight cap are shared too. Both are made on first use, so a bad
 * configuration surfaces inside `validateInvocation` as a clear validation
 * error rather than while the runtime loads the execution config.
 */
export class CollectorRun {
  private parsed?: AbmConfig;
  private client?: AbmClient;

  constructor(
    private readonly rawConfig: Partial<IntegrationConfig>,
    private readonly options: CollectorOptions = {},
  ) {}

  get config(): AbmConfig {
    this.parsed ??= parseConfig(this.rawConfig);
    return this.parsed;
  }

  getClient(logger?: IntegrationLogger): AbmClient {
    this.client ??= new AbmClient({
      config: this.config,
      http: this.options.http,
      now: this.options.now,
    });
    if (logger) this.client.setLogger(logger);
    return this.client;
  }
}

export interface ExecutionConfig {
  run: CollectorRun;
}

/** The run of a context; a context built without `loadExecutionConfig` (some test helpers) gets its own. */
export function getRun(
  context: Pick<IntegrationExecutionContext<IntegrationInstanceConfig>, 'instance'> & {
    executionConfig?: object;
  },
): CollectorRun {
  const executionConfig = context.executionConfig as Partial<ExecutionConfig> | undefined;
  if (executionConfig?.run instanceof CollectorRun) return executionConfig.run;
  const run = new CollectorRun(context.instance.config as Partial<IntegrationConfig>);
  if (executionConfig) (executionConfig as ExecutionConfig).run = run;
  return run;
}
