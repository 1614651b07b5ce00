import { collectFromSandbox } from '../helpers/collect';
import { captureOutput } from '../reliability/support';
import { deviceKey } from '../../src/steps/constants';
import { Sandbox, startSandbox } from '../sandbox';
import { ATTRIBUTE_NAMES } from '../sandbox/server';

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
      /3 devices kept, release unknown: Apple had no details \(404 on the single-device GET\)/,
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

  it('a device the list serves without a status is looked up too, and found released', async () => {
    const quirky = await startSandbox({
      devices: 1200,
      servers: 4,
      seed: 5,
      quirks: { nullAttributes: true },
    });
    try {
      const graph = await collectFromSandbox(quirky, { env: { CHECK_RELEASED_DEVICES: 'true' } });
      expect(graph.error).toBeUndefined();
      const byKey = new Map(graph.entities.map((e) => [e._key, e]));
      let withoutStatus = 0;
      for (let i = 0; i < quirky.fleet.deviceCount; i++) {
        const nulled = quirky.fleet.nulledDeviceAttributes(i, ATTRIBUTE_NAMES.orgDevices);
        // Released, its status null in the list, its release date served by the single GET.
        if (!quirky.fleet.isReleased(i) || !nulled.includes('status')) continue;
        if (nulled.includes('releasedFromOrgDateTime')) continue;
        withoutStatus += 1;
        const device = quirky.fleet.device(i);
        expect(byKey.get(deviceKey(device.id))).toMatchObject({
          status: 'decommissioned',
          active: false,
          releasedFromOrgOn: Date.parse(device.attributes.releasedFromOrgDateTime as string),
        });
      }
      expect(withoutStatus).toBeGreaterThan(0);
    } finally {
      await quirky.stop();
    }
  });
});
