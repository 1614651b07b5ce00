/**
 * When recovery is impossible the run must say so: the failing step ends in
 * `failure`, its types (and those of steps that depend on it) are listed as
 * partial datasets in summary.json so the platform keeps the previous data,
 * the other steps still finish, and the error names the endpoint, the status
 * and Apple's error code and detail. Each case is a real collection.
 */
import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
} from '@jupiterone/integration-sdk-core';

import { collectFromSandbox, CollectedGraph } from '../helpers/collect';
import { virtualClock } from '../helpers/fakeFetch';
import { appleError, CannedAnswer, startTapProxy, TapProxy } from '../helpers/tapProxy';
import { Sandbox, startSandbox } from '../sandbox';
import {
  captureOutput,
  danglingRelationships,
  expectComplete,
  expectHonest,
  FAST_HTTP,
  ofType,
  partialTypes,
  settled,
  stepFailureReason,
  stepStatuses,
  Types,
} from './support';

const DEVICES = 2500;
const FAST_GIVE_UP = { ...FAST_HTTP, maxAttempts: 3 };

/** A page of a JSON:API list as the API answers it, for the proxy to send instead. */
function listPage(url: URL, data: unknown[], nextCursor: string): { answer: CannedAnswer } {
  return {
    answer: {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        data,
        links: { self: url.href },
        meta: { paging: { limit: 1000, nextCursor } },
      }),
    },
  };
}

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
  let baseline: CollectedGraph;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: DEVICES, servers: 6, seed: 11 });
    proxy = await startTapProxy(sandbox.apiBaseUrl);
    baseline = await collectFromSandbox(sandbox, { collector: { http: FAST_HTTP } });
    expectComplete(baseline);
  });
  beforeEach(() => sandbox.resetStats());
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
    // Apple's detail, word for word, as the sandbox's errors body gives it.
    expect(reason).toContain('500 INTERNAL_ERROR: The server could not complete the request');
    expect(reason).toMatch(/gave up after 3 attempts/);
    expectHonest(graph, baseline);
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

  it('a device list that repeats its records under new cursors: the walk stops with a failed step, not an endless run', async () => {
    // Every page is the first page again, under a cursor never seen before: neither a repeated
    // cursor nor an empty page, so only the records tell (found by a review: the run went on).
    const devices = Array.from({ length: 100 }, (_, i) => sandbox.fleet.device(i));
    let pages = 0;
    proxy.setIntercept(({ url }) => {
      if (url.pathname !== '/v1/orgDevices') return undefined;
      pages += 1;
      return listPage(url, devices, `C${pages}`);
    });
    const { graph, output } = await collectLogged(sandbox, {
      env: { API_BASE_URL: proxy.apiBaseUrl, TOKEN_URL: proxy.tokenUrl },
      collector: { http: FAST_GIVE_UP },
    });

    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
    expect(partialTypes(graph)).toEqual(
      [Types.DEVICE, Types.ORG_HAS_DEVICE, Types.SERVER_HAS_DEVICE].sort(),
    );
    expect(stepFailureReason(output, 'Fetch Devices')).toBe(
      'Provider API failed at GET /v1/orgDevices: 200 the list repeats itself: 1100 devices listed again against 100 new ones, each page with another cursor; stopping so the walk cannot go on forever. This is an Apple-side paging fault: try again later',
    );
    // Twelve pages, and at most the two read ahead.
    expect(pages).toBeLessThanOrEqual(14);
    expect(ofType(graph.entities, Types.DEVICE)).toHaveLength(100);
    expect(danglingRelationships(graph)).toEqual([]);
  });

  it("a server's id list that repeats itself under new cursors: that server's walk fails, the rest completes", async () => {
    const victim = sandbox.fleet.servers[0].id;
    const ids = Array.from({ length: 200 }, (_, i) => ({
      type: 'orgDevices',
      id: sandbox.fleet.device(i).id,
    }));
    let pages = 0;
    proxy.setIntercept(({ url }) => {
      if (url.pathname !== `/v1/mdmServers/${victim}/relationships/devices`) return undefined;
      pages += 1;
      return listPage(url, ids, `C${pages}`);
    });
    const { graph, output } = await collectLogged(sandbox, {
      env: { API_BASE_URL: proxy.apiBaseUrl, TOKEN_URL: proxy.tokenUrl },
      collector: { http: FAST_GIVE_UP },
    });

    expect(stepStatuses(graph).map((s) => s.status)).toEqual([
      'success',
      'success',
      'success',
      'failure',
    ]);
    expect(partialTypes(graph)).toEqual([Types.SERVER_HAS_DEVICE]);
    expect(stepFailureReason(output, 'Build MDM Server Device Relationships')).toBe(
      `Provider API failed at GET /v1/mdmServers/${victim}/relationships/devices: 200 the list repeats itself: 1200 device ids listed again against 200 new ones, each page with another cursor; stopping so the walk cannot go on forever. This is an Apple-side paging fault: try again later`,
    );
    // Bounded: the id-list prefetch reads at most 100 pages ahead while the device walk runs,
    // and the step stops at the seventh page it takes.
    expect(pages).toBeLessThanOrEqual(105);
  });

  it("a deleted server's id list refused with 404 after its first page: a failure, not an empty list", async () => {
    // A 404 on the first page of a deleted server's list means it has none; on a later page it
    // cuts the list short (found by a review: the 30 devices of page 1 were reported as all).
    const deleted = sandbox.fleet.servers.find((server) => server.attributes.status === 'DELETED');
    expect(deleted).toBeDefined();
    const path = `/v1/mdmServers/${deleted?.id}/relationships/devices`;
    proxy.setIntercept(({ url }) => {
      if (url.pathname !== path) return undefined;
      if (url.searchParams.get('cursor') === 'P2') {
        return { answer: appleError(404, 'NOT_FOUND', 'The server does not exist') };
      }
      const data = Array.from({ length: 30 }, (_, i) => ({
        type: 'orgDevices',
        id: sandbox.fleet.device(i).id,
      }));
      return listPage(url, data, 'P2');
    });
    const { graph, output } = await collectLogged(sandbox, {
      env: { API_BASE_URL: proxy.apiBaseUrl, TOKEN_URL: proxy.tokenUrl },
      collector: { http: FAST_GIVE_UP },
    });

    expect(
      stepStatuses(graph).find((s) => s.id === 'build-mdm-server-device-relationships')?.status,
    ).toBe('failure');
    expect(partialTypes(graph)).toEqual([Types.SERVER_HAS_DEVICE]);
    const reason = stepFailureReason(output, 'Build MDM Server Device Relationships');
    expect(reason).toContain(`GET ${path}: 404 NOT_FOUND`);
    expect(output).not.toContain('is deleted and has no device list');
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
  it('more than 50 empty pages in a row, each with a new cursor: the device walk fails, not an endless walk', async () => {
    const empty = await startSandbox({
      devices: 1500,
      servers: 4,
      seed: 11,
      quirks: { emptyPageWithNext: Array.from({ length: 51 }, (_, i) => i + 1) },
    });
    try {
      const { graph, output } = await collectLogged(empty, { collector: { http: FAST_HTTP } });
      expect(graph.error).toBeUndefined();
      expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
      expect(partialTypes(graph)).toEqual(
        [Types.DEVICE, Types.ORG_HAS_DEVICE, Types.SERVER_HAS_DEVICE].sort(),
      );
      expect(stepFailureReason(output, 'Fetch Devices')).toBe(
        'Provider API failed at GET /v1/orgDevices: 200 51 empty pages in a row, each with another cursor; stopping so the walk cannot go on forever',
      );
      // It stopped at the 51st empty page (read ahead by at most two more).
      expect(empty.stats().byEndpoint['orgDevices.list']['200']).toBeLessThanOrEqual(53);
      expect(ofType(graph.entities, Types.DEVICE)).toEqual([]);
    } finally {
      await empty.stop();
    }
  });

  it("persistent 429 on the device list: the give-up names Apple's code and detail", async () => {
    sandbox.setFaults({
      rules: [{ kind: 'tooManyRequests', endpoints: 'orgDevices.list', retryAfterSeconds: 1 }],
    });
    // A virtual clock: the Retry-After waits and the pace the 429s teach cost no real time.
    const clock = virtualClock();
    const { graph, output } = await collectLogged(sandbox, {
      collector: { http: { ...FAST_GIVE_UP, now: clock.now, sleep: clock.sleep } },
    });
    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
    expect(sandbox.stats().byEndpoint['orgDevices.list']).toEqual({ '429': 3 });
    expect(stepFailureReason(output, 'Fetch Devices')).toMatch(
      /^Provider retries exceeded at GET \/v1\/orgDevices: 429 rate limited \(RATE_LIMIT_EXCEEDED: Too many requests; retry later\); gave up after 3 attempts\. Apple kept asking to slow down: run less often, or when fewer other clients use the API account; the next run will try again\.$/,
    );
    expectHonest(graph, baseline);
  });

  it('the API refusing every token from some point on (401): the run ends with an authentication error naming the endpoint; nothing is reported complete', async () => {
    // The first three API requests are answered; from the fourth on every request is refused
    // with Apple's 401, whatever the token, as when the API account is deleted mid-run.
    const detail = 'Authentication credentials are missing or invalid';
    sandbox.setFaults({
      rules: [
        {
          kind: 'status',
          status: 401,
          endpoints: 'api',
          detail,
          nth: Array.from({ length: 500 }, (_, i) => i + 4),
        },
      ],
    });
    const { graph, output } = await collectLogged(sandbox, { collector: { http: FAST_GIVE_UP } });
    // Work the runtime did not wait for (other steps, the id prefetch) ends on its own.
    await settled(sandbox);

    // The run itself fails: an authentication error is fatal in the SDK, unlike a step error.
    expect(graph.error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    // The first walk to be refused names its endpoint: the device walk's, or an id list's that
    // was being fetched alongside it; every other walk then stops with the same error.
    expect(graph.error?.message).toMatch(
      new RegExp(
        `^Provider authentication failed at GET /v1/(orgDevices|mdmServers/[0-9A-F]{32}/relationships/devices): 401 UNAUTHORIZED: ${detail}\\. A freshly issued access token was refused too: check that the API account is still active in Apple Business Manager$`,
      ),
    );
    // No summary.json: no step is reported as a success or as anything else, so nothing
    // reaches the platform as complete. The log says the step failed and never that the
    // collection completed.
    expect(graph.summary).toBeUndefined();
    expect(output).toContain('Step "Fetch Devices" failed to complete due to error.');
    expect(output).not.toContain('Integration data collection has completed');
    // What the steps wrote before the refusal stays in the output directory, without a
    // summary: the servers, and the device pages read before the refusals began.
    expect(ofType(graph.entities, Types.MDM_SERVER)).toHaveLength(6);
    expect(ofType(graph.entities, Types.DEVICE).length).toBeLessThan(DEVICES);
    expect(ofType(graph.relationships, Types.SERVER_HAS_DEVICE)).toEqual([]);
    expect(danglingRelationships(graph)).toEqual([]);
    // Bounded: a refused request gives up after at most 7 tries (5 replacements of tokens that
    // had worked, one more fresh token, the last refusal); two walks were in flight (the device
    // walk and one id list), and once one was refused the other stopped. No token storm.
    const stats = sandbox.stats();
    const refusals = Object.values(stats.byEndpoint)
      .map((statuses) => statuses['401'] ?? 0)
      .reduce((a, b) => a + b, 0);
    expect(refusals).toBeGreaterThanOrEqual(2);
    expect(refusals).toBeLessThanOrEqual(14);
    expect(stats.tokensIssued).toBeLessThanOrEqual(1 + 14);
  });

  it('a token renewal refused with a 400 that does not blame the credentials: retried after 2 s and 10 s, then that step fails, not the run', async () => {
    // Each token authorizes 3 requests, then a renewal is needed; the token endpoint refuses
    // every renewal as "too many token requests" with a 400 (clients report both 400 and 429).
    sandbox.setFaults({
      revokeTokenAfterRequests: 3,
      tokenThrottle: { minIntervalSeconds: 3600, status: 400 },
    });
    const clock = virtualClock();
    const { graph, output } = await collectLogged(sandbox, {
      collector: { http: { ...FAST_GIVE_UP, now: clock.now, sleep: clock.sleep } },
    });

    // The three requests the first token allows read the server list and device pages; the
    // device walk needs a fourth and fails; the run goes on and ends with a summary.
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
    expectHonest(graph, baseline);
    expect(stepFailureReason(output, 'Fetch Devices')).toBe(
      'Provider retries exceeded at POST /auth/oauth2/token: 400 invalid_request: too many token requests for this client; reuse the access token until it expires',
    );
    // Each refused renewal was asked three times, 2 s and 10 s apart; the first token was issued.
    const token = sandbox.stats().byEndpoint.token;
    expect(token['200']).toBe(1);
    expect(token['400'] % 3).toBe(0);
    expect(token['400']).toBeGreaterThanOrEqual(3);
    expect([...new Set(clock.waits)].sort((a, b) => a - b)).toEqual([2_000, 10_000]);
    expect(clock.waits.filter((w) => w === 2_000)).toHaveLength(token['400'] / 3);
  });

  it("the API account's key revoked mid-run (renewal refused with 401 invalid_client): not retried; the run ends with the credentials hint", async () => {
    // Each token authorizes 3 requests; from the second token request on, the token endpoint
    // refuses the key as Apple's does (OAuth's form).
    sandbox.setFaults({
      revokeTokenAfterRequests: 3,
      rules: [
        {
          kind: 'status',
          status: 401,
          code: 'invalid_client',
          detail: 'The client assertion could not be verified',
          endpoints: 'token',
          nth: Array.from({ length: 20 }, (_, i) => i + 2),
        },
      ],
    });
    const clock = virtualClock();
    const { graph, output } = await collectLogged(sandbox, {
      collector: { http: { ...FAST_GIVE_UP, now: clock.now, sleep: clock.sleep } },
    });
    await settled(sandbox);

    // An authentication error is fatal in the SDK: no summary, nothing reported complete.
    expect(graph.error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(graph.error?.message).toBe(
      "Provider authentication failed at POST /auth/oauth2/token: 401 invalid_client: The client assertion could not be verified. Apple did not accept the credentials: check that the Key ID and the private key both belong to this Client ID (the API account may also have been deleted or its key revoked), and that this machine's clock is correct",
    );
    expect(graph.summary).toBeUndefined();
    expect(output).not.toContain('Integration data collection has completed');
    expect(danglingRelationships(graph)).toEqual([]);
    // A refusal that blames the credentials is final: asked once, never waited on, whichever
    // walks needed the new token.
    const token = sandbox.stats().byEndpoint.token;
    expect(token).toEqual({ '200': 1, '401': 1 });
    expect(clock.waits).toEqual([]);
  });

  it("the token endpoint down from the start (503 every time): the run is refused within the configuration check's 45 s", async () => {
    sandbox.setFaults({ rules: [{ kind: 'serverError', status: 503, endpoints: 'token' }] });
    // Production backoff and attempts on a virtual clock, the jitter at its middle.
    const clock = virtualClock();
    const { graph, output } = await collectLogged(sandbox, {
      collector: { http: { now: clock.now, sleep: clock.sleep, random: () => 0.5 } },
    });
    expect(graph.error).toBeInstanceOf(IntegrationProviderAPIError);
    expect(graph.error).not.toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(graph.error?.message).toBe(
      'Provider retries exceeded at POST /auth/oauth2/token: 503 SERVICE_UNAVAILABLE: The server could not complete the request; gave up after 6 attempts: the configuration check waits at most 45 s. Apple may be having trouble; the next run will try again.',
    );
    expect(output).toContain('Error occurred while validating integration configuration');
    // Refused before any step: no summary, nothing collected, no API request.
    expect(graph.summary).toBeUndefined();
    expect(graph.entities).toEqual([]);
    expect(graph.relationships).toEqual([]);
    expect(sandbox.stats().byEndpoint).toEqual({ token: { '503': 6 } });
    // Someone may be waiting for this answer in the integrations UI: not the 8 attempts and
    // minutes a request of the run may take.
    expect(clock.waits).toHaveLength(5);
    expect(clock.waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThanOrEqual(44_000);
  });
});
