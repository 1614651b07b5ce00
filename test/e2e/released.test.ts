import { collectFromSandbox } from '../helpers/collect';
import { captureOutput } from '../reliability/support';
import { Sandbox, startSandbox } from '../sandbox';

const DEVICE = 'apple_business_manager_org_device';

/**
 * CHECK_RELEASED_DEVICES when the single-device GET does not answer as hoped:
 * a 404 keeps the device (release unknown, counted in a warning); a failure
 * that retries cannot fix fails the devices step, so no device is reported
 * "not released" for want of an answer.
 */
describe('checking released devices when the single-device GET fails', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 1200, servers: 4, seed: 5 });
  });
  afterEach(() => sandbox.setFaults({}));
  afterAll(() => sandbox.stop());

  it('a 404 keeps the device, without a release date, and says so in a warning', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'status', status: 404, endpoints: 'orgDevices.get', nth: [1, 2, 3] }],
    });
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { CHECK_RELEASED_DEVICES: 'true', LOG_LEVEL: 'warn' },
      }),
    );
    expect(graph.error).toBeUndefined();
    expect(graph.summary?.metadata.partialDatasets.types).toEqual([]);
    expect(graph.entities.filter((e) => e._type === DEVICE)).toHaveLength(1200);
    expect(output).toMatch(
      /3 devices kept without some attributes: Apple had no details for them \(404 on the single-device GET\)/,
    );
  });

  it('a 403 on the single-device GET fails the devices step with partial datasets', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'status', status: 403, endpoints: 'orgDevices.get', nth: 5 }],
    });
    const graph = await collectFromSandbox(sandbox, { env: { CHECK_RELEASED_DEVICES: 'true' } });
    const devicesStep = graph.summary?.integrationStepResults.find((r) => r.id === 'fetch-devices');
    expect(devicesStep?.status).toBe('failure');
    expect(graph.summary?.metadata.partialDatasets.types).toEqual(
      expect.arrayContaining([DEVICE, 'apple_business_manager_organization_has_org_device']),
    );
  });
});
