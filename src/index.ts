import {
  IntegrationExecutionContext,
  IntegrationInvocationConfig,
} from '@jupiterone/integration-sdk-core';

import { IntegrationConfig, instanceConfigFields } from './config';
import { withPresentableErrors } from './errors';
import { CollectorOptions, CollectorRun, ExecutionConfig, getRun } from './run';
import { assignmentsStep } from './steps/assignments';
import { devicesStep } from './steps/devices';
import { mdmServersStep } from './steps/mdm-servers';
import { organizationStep } from './steps/organization';

export const integrationSteps = [
  organizationStep,
  mdmServersStep,
  devicesStep,
  assignmentsStep,
].map((step) => ({ ...step, executionHandler: withPresentableErrors(step.executionHandler) }));

/**
 * Checks the configuration (field by field, with messages that say what to
 * fix) and then obtains an access token, which proves that the Client ID,
 * Key ID, key and scope belong together.
 */
export const validateInvocation = withPresentableErrors(
  async (context: IntegrationExecutionContext<IntegrationConfig>): Promise<void> => {
    const run = getRun(context);
    await run.getClient(context.logger).verifyAuthentication();
  },
);

/** The integration, with knobs for tests and the benchmark (timeouts, backoff, an injected fetch). */
export function createInvocationConfig(
  options: CollectorOptions = {},
): IntegrationInvocationConfig<IntegrationConfig> {
  return {
    instanceConfigFields,
    loadExecutionConfig: ({ config }): ExecutionConfig => ({
      run: new CollectorRun(config, options),
    }),
    validateInvocation,
    integrationSteps,
  };
}

export const invocationConfig = createInvocationConfig();
