import { executeStepWithDependencies } from '@jupiterone/integration-sdk-testing';

import { RecordedRun, startRecordedRun } from '../../test/recording';
import { Entities, Relationships, Steps } from './constants';

/**
 * Each step replayed from a recording of the sandbox and held to its declared
 * metadata and the strict schemas in constants.ts.
 */
describe.each(Object.values(Steps))('step %s', (stepId) => {
  let run: RecordedRun;

  beforeEach(async () => {
    run = await startRecordedRun(stepId, __dirname);
  });
  afterEach(() => run.stop());

  it('emits exactly its declared, schema-valid types', async () => {
    const result = await executeStepWithDependencies({
      stepId,
      invocationConfig: run.invocationConfig,
      instanceConfig: run.instanceConfig,
    });
    expect(result).toMatchStepMetadata({
      stepId,
      invocationConfig: run.invocationConfig,
      instanceConfig: run.instanceConfig,
    });
    if (run.mode === 'replay') expect(run.sandbox.stats().totalRequests).toBe(0);

    const { fleet } = run.sandbox;
    const count = (type: string) =>
      [...result.collectedEntities, ...result.collectedRelationships].filter(
        (o) => o._type === type,
      ).length;
    if (stepId === Steps.DEVICES) {
      expect(count(Entities.DEVICE._type)).toBe(fleet.deviceCount);
      expect(count(Relationships.ORGANIZATION_HAS_DEVICE._type)).toBe(fleet.deviceCount);
    }
    if (stepId === Steps.MDM_SERVERS) {
      expect(count(Entities.MDM_SERVER._type)).toBe(fleet.servers.length);
    }
    if (stepId === Steps.DEVICE_ASSIGNMENTS) {
      const assigned = fleet.servers.reduce((n, s) => n + s.attributes.deviceCount, 0);
      expect(count(Relationships.MDM_SERVER_HAS_DEVICE._type)).toBe(assigned);
    }
  });
});
