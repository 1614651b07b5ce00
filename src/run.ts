import {
  IntegrationExecutionContext,
  IntegrationInstanceConfig,
  IntegrationLogger,
} from '@jupiterone/integration-sdk-core';

import { AbmClient } from './abm/client';
import { HttpOptions } from './abm/http';
import { AbmConfig, IntegrationConfig, parseConfig } from './config';
import { ServerDeviceIdPrefetch } from './steps/assignments/prefetch';

/** Knobs for tests and the benchmark; a production run uses the defaults. */
export interface CollectorOptions {
  http?: HttpOptions;
  now?: () => number;
  /**
   * Pages of the MDM servers' device id lists fetched during the device walk
   * (see ServerDeviceIdPrefetch); 0 fetches them only in the assignments step.
   */
  prefetchIdPages?: number;
}

/** Id pages fetched ahead by default: about 100,000 ids, a few MB, whatever the fleet. */
export const DEFAULT_PREFETCH_ID_PAGES = 100;

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
  private prefetch?: ServerDeviceIdPrefetch;

  constructor(
    private readonly rawConfig: Partial<IntegrationConfig>,
    private readonly options: CollectorOptions = {},
  ) {}

  get config(): AbmConfig {
    this.parsed ??= parseConfig(this.rawConfig);
    return this.parsed;
  }

  /**
   * The run's client, seen by the caller: its requests log to `logger` (a step's). The first
   * logger given (`validateInvocation`'s, the run's own, when the runtime validates first) also
   * takes the requests that belong to no step: the token's and the id lists fetched ahead.
   */
  getClient(logger?: IntegrationLogger): AbmClient {
    if (!this.client) {
      this.client = new AbmClient({
        config: this.config,
        http: this.options.http,
        now: this.options.now,
      });
      if (logger) this.client.setLogger(logger);
    }
    return logger ? this.client.withLogger(logger) : this.client;
  }

  /**
   * Starts fetching the servers' device id lists for the assignments step,
   * which cannot run before the device walk ends but need not wait for the
   * network after it.
   */
  prefetchServerDeviceIds(serverIds: string[]): void {
    const pages = this.options.prefetchIdPages ?? DEFAULT_PREFETCH_ID_PAGES;
    if (pages <= 0 || this.prefetch) return;
    // Fetched for the assignments step during the device walk: the run's own requests.
    this.prefetch = new ServerDeviceIdPrefetch(this.getClient(), serverIds, pages);
  }

  /** The id lists fetched ahead, if any; stops fetching ahead. */
  async takeServerDeviceIds(): Promise<ServerDeviceIdPrefetch | undefined> {
    const prefetch = this.prefetch;
    this.prefetch = undefined;
    await prefetch?.stop();
    return prefetch;
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
