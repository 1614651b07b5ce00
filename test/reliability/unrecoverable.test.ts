/**
 * When recovery is impossible the run must say so: the failing step ends in
 * `failure`, its types (and those of steps that depend on it) are listed as
 * partial datasets in summary.json so the platform keeps the previous data,
 * the other steps still finish, and the error names the endpoint, the status
 * and Apple's error code and detail. Each case is a real collection.
 */
import { collectFromSandbox, CollectedGraph } from '../helpers/collect';
import { appleError, startTapProxy, TapProxy } from '../helpers/tapProxy';
import { Sandbox, startSandbox } from '../sandbox';
import {
  captureOutput,
  danglingRelationships,
  FAST_HTTP,
  ofType,
  partialTypes,
  stepFailureReason,
  stepStatuses,
  Types,
} from './support';

const DEVICES = 2500;
const FAST_GIVE_UP = { ...FAST_HTTP, maxAttempts: 3 };

async function collectLogged(
  sandbox: Sandbox,
  options: Parameters<typeof collectFromSandbox>[1] = {},
): Promise<{ graph: CollectedGraph; output: string }> {
  const { result, output } = await captureOutput(() =>
    collectFromSandbox(sandbox, {
      ...options,
      env: { LOG_LEVEL: 'info', ...options.env },
    }),
  );
  return { graph: result, output };
}

describe('when recovery is impossible', () => {
  let sandbox: Sandbox;
  let proxy: TapProxy;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: DEVICES, servers: 6, seed: 11 });
    proxy = await startTapProxy(sandbox.apiBaseUrl);
  });
  afterEach(() => {
    sandbox.setFaults({});
    proxy.setIntercept(undefined);
  });
  afterAll(async () => {
    await proxy.stop();
    await sandbox.stop();
  });

  it('persistent 503 on the device list from page 2 on: devices step fails, its types partial', async () => {
    // Page 1 is answered, every attempt at page 2 fails: the walk must not end "complete".
    const nth = Array.from({ length: 40 }, (_, i) => i + 2);
    sandbox.setFaults({
      rules: [{ kind: 'serverError', status: 503, endpoints: 'orgDevices.list', nth }],
    });
    const { graph, output } = await collectLogged(sandbox, { collector: { http: FAST_GIVE_UP } });

    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph)).toEqual([
      { id: 'fetch-organization', status: 'success' },
      { id: 'fetch-mdm-servers', status: 'success' },
      { id: 'fetch-devices', status: 'failure' },
      {
        id: 'build-mdm-server-device-relationships',
        status: 'partial_success_due_to_dependency_failure',
      },
    ]);
    expect(partialTypes(graph)).toEqual(
      [Types.DEVICE, Types.ORG_HAS_DEVICE, Types.SERVER_HAS_DEVICE].sort(),
    );
    // The other steps finished with all their data.
    expect(ofType(graph.entities, Types.MDM_SERVER)).toHaveLength(6);
    expect(ofType(graph.relationships, Types.ORG_HAS_SERVER)).toHaveLength(6);
    expect(ofType(graph.entities, Types.DEVICE).length).toBeLessThan(DEVICES);
    expect(danglingRelationships(graph)).toEqual([]);

    const reason = stepFailureReason(output, 'Fetch Devices');
    expect(reason).toContain('GET /v1/orgDevices');
    expect(reason).toContain('503');
    expect(reason).toContain('SERVICE_UNAVAILABLE');
    expect(reason).toContain('The server could not complete the request');
    expect(reason).toMatch(/gave up after 3 attempts/);
    expect(sandbox.stats().byEndpoint['orgDevices.list']['503']).toBe(3);
  });

  it('persistent 500 on the MDM server list: that step and the assignments are partial, devices complete', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'serverError', status: 500, endpoints: 'mdmServers.list' }],
    });
    const { graph, output } = await collectLogged(sandbox, { collector: { http: FAST_GIVE_UP } });

    expect(stepStatuses(graph)).toEqual([
      { id: 'fetch-organization', status: 'success' },
      { id: 'fetch-mdm-servers', status: 'failure' },
      { id: 'fetch-devices', status: 'success' },
      {
        id: 'build-mdm-server-device-relationships',
        status: 'partial_success_due_to_dependency_failure',
      },
    ]);
    expect(partialTypes(graph)).toEqual(
      [Types.MDM_SERVER, Types.ORG_HAS_SERVER, Types.SERVER_HAS_DEVICE].sort(),
    );
    expect(ofType(graph.entities, Types.DEVICE)).toHaveLength(DEVICES);
    const reason = stepFailureReason(output, 'Fetch MDM Servers');
    expect(reason).toContain('GET /v1/mdmServers');
    expect(reason).toContain('500');
    expect(reason).toContain('INTERNAL_ERROR');
  });

  it("403 on one server's device list: assignments fail and are partial, every other step completes", async () => {
    const victim = sandbox.fleet.servers[0].id;
    const detail = 'The API account does not have the privilege to read devices of this server.';
    proxy.setIntercept(({ url }) =>
      url.pathname === `/v1/mdmServers/${victim}/relationships/devices`
        ? { answer: appleError(403, 'FORBIDDEN', detail) }
        : undefined,
    );
    const { graph, output } = await collectLogged(sandbox, {
      env: { API_BASE_URL: proxy.apiBaseUrl, TOKEN_URL: proxy.tokenUrl },
      collector: { http: FAST_GIVE_UP },
    });

    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph)).toEqual([
      { id: 'fetch-organization', status: 'success' },
      { id: 'fetch-mdm-servers', status: 'success' },
      { id: 'fetch-devices', status: 'success' },
      { id: 'build-mdm-server-device-relationships', status: 'failure' },
    ]);
    expect(partialTypes(graph)).toEqual([Types.SERVER_HAS_DEVICE]);
    expect(ofType(graph.entities, Types.DEVICE)).toHaveLength(DEVICES);
    expect(ofType(graph.entities, Types.MDM_SERVER)).toHaveLength(6);
    expect(danglingRelationships(graph)).toEqual([]);

    const reason = stepFailureReason(output, 'Build MDM Server Device Relationships');
    expect(reason).toContain(`GET /v1/mdmServers/${victim}/relationships/devices`);
    expect(reason).toContain('403');
    expect(reason).toContain('FORBIDDEN');
    expect(reason).toContain(detail);
    // A 403 is not retried: retrying cannot grant a privilege.
    expect(
      proxy.log.filter((r) => r.path === `/v1/mdmServers/${victim}/relationships/devices`),
    ).toHaveLength(1);
  });

  it('a repeating cursor ends the device walk with a failed step and partial datasets, not success', async () => {
    const looping = await startSandbox({
      devices: DEVICES,
      servers: 6,
      seed: 11,
      quirks: { repeatCursorOnPage: 2 },
    });
    try {
      const { graph, output } = await collectLogged(looping, { collector: { http: FAST_HTTP } });
      expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
      expect(partialTypes(graph)).toEqual(
        [Types.DEVICE, Types.ORG_HAS_DEVICE, Types.SERVER_HAS_DEVICE].sort(),
      );
      expect(stepStatuses(graph).find((s) => s.id === 'fetch-mdm-servers')?.status).toBe('success');
      const reason = stepFailureReason(output, 'Fetch Devices');
      expect(reason).toContain('GET /v1/orgDevices');
      expect(reason).toMatch(/cursor that an earlier page already returned/);
      // It stopped at once: page 2 was fetched once, never again.
      expect(looping.stats().byEndpoint['orgDevices.list']['200']).toBeLessThanOrEqual(3);
    } finally {
      await looping.stop();
    }
  });
});
