/**
 * Every wait is bounded: a per-request limit on the time spent waiting to
 * retry, a per-run retry budget (RETRY_BUDGET_SECONDS, default 1800), and a
 * cap on attempts. A persistently failing API ends the run with a clear error
 * inside those budgets; it never hangs. The transport's clock is virtual here
 * (sleeps return at once and advance it), so the tests can check the waits
 * the collector asked for without waiting them.
 */
import { collectFromSandbox } from '../helpers/collect';
import { virtualClock } from '../helpers/fakeFetch';
import { Sandbox, startSandbox } from '../sandbox';
import {
  captureOutput,
  ofType,
  partialTypes,
  stepFailureReason,
  stepStatuses,
  Types,
} from './support';

describe('bounded waits', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 1500, servers: 4, seed: 41 });
  });
  beforeEach(() => sandbox.resetStats());
  afterEach(() => sandbox.setFaults({}));
  afterAll(() => sandbox.stop());

  it('a persistently failing API spends the run budget from RETRY_BUDGET_SECONDS, then fails with a clear error', async () => {
    sandbox.setFaults({ rules: [{ kind: 'serverError', status: 503, endpoints: 'api' }] });
    const clock = virtualClock();
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { LOG_LEVEL: 'warn', RETRY_BUDGET_SECONDS: '20' },
        // Production backoff (1 s doubling to 30 s) and attempts (8); only the clock is virtual.
        collector: { http: { now: clock.now, sleep: clock.sleep } },
      }),
    );
    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph)).toEqual([
      { id: 'fetch-organization', status: 'success' },
      { id: 'fetch-mdm-servers', status: 'failure' },
      { id: 'fetch-devices', status: 'failure' },
      {
        id: 'build-mdm-server-device-relationships',
        status: 'partial_success_due_to_dependency_failure',
      },
    ]);
    expect(partialTypes(graph)).toEqual(
      [
        Types.MDM_SERVER,
        Types.ORG_HAS_SERVER,
        Types.DEVICE,
        Types.ORG_HAS_DEVICE,
        Types.SERVER_HAS_DEVICE,
      ].sort(),
    );
    const total = clock.waits.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(20_000);
    const reasons = [
      stepFailureReason(output, 'Fetch Devices'),
      stepFailureReason(output, 'Fetch MDM Servers'),
    ];
    expect(reasons.join('\n')).toContain(
      "the run's retry budget (retryBudgetSeconds = 20 s) is spent",
    );
    for (const reason of reasons) expect(reason).toMatch(/503 SERVICE_UNAVAILABLE/);
  });

  it('with the default budgets, a persistently failing request gives up after 8 attempts', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'serverError', status: 500, endpoints: 'orgDevices.list' }],
    });
    const clock = virtualClock();
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { LOG_LEVEL: 'warn' },
        collector: { http: { now: clock.now, sleep: clock.sleep } },
      }),
    );
    expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
    expect(stepStatuses(graph).find((s) => s.id === 'fetch-mdm-servers')?.status).toBe('success');
    expect(sandbox.stats().byEndpoint['orgDevices.list']).toEqual({ '500': 8 });
    // Seven waits of exponential backoff with jitter: 1 s, 2 s, ... capped at 30 s.
    expect(clock.waits).toHaveLength(7);
    clock.waits.forEach((wait, i) => {
      const exponential = Math.min(30_000, 1_000 * 2 ** i);
      expect(wait).toBeGreaterThanOrEqual(exponential / 2);
      expect(wait).toBeLessThanOrEqual(exponential);
    });
    expect(stepFailureReason(output, 'Fetch Devices')).toMatch(
      /GET \/v1\/orgDevices: 500 INTERNAL_ERROR: .*gave up after 8 attempts/,
    );
  });

  it('small budgets through collector.http: per-run budget spent, clear error, no hang', async () => {
    sandbox.setFaults({ rules: [{ kind: 'serverError', status: 502, endpoints: 'api' }] });
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { LOG_LEVEL: 'warn' },
        collector: {
          http: { maxAttempts: 1_000, baseBackoffMs: 10, maxBackoffMs: 40, retryBudgetMs: 2_000 },
        },
      }),
    );
    expect(
      stepStatuses(graph)
        .filter((s) => s.status === 'failure')
        .map((s) => s.id),
    ).toEqual(['fetch-mdm-servers', 'fetch-devices']);
    expect(stepFailureReason(output, 'Fetch Devices')).toContain(
      "the run's retry budget (retryBudgetSeconds = 2 s) is spent",
    );
  });

  it('a Retry-After longer than the per-request limit: that request gives up at once', async () => {
    sandbox.setFaults({
      rules: [{ kind: 'tooManyRequests', endpoints: 'orgDevices.list', retryAfterSeconds: 3600 }],
    });
    const clock = virtualClock();
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { LOG_LEVEL: 'warn' },
        collector: { http: { now: clock.now, sleep: clock.sleep } },
      }),
    );
    expect(stepStatuses(graph).find((s) => s.id === 'fetch-devices')?.status).toBe('failure');
    expect(sandbox.stats().byEndpoint['orgDevices.list']).toEqual({ '429': 1 });
    expect(stepFailureReason(output, 'Fetch Devices')).toMatch(
      /429 rate limited \(RATE_LIMIT_EXCEEDED: [^)]+\); gave up: retrying would wait longer than the per-request limit of 300 s/,
    );
    expect(ofType(graph.entities, Types.MDM_SERVER)).toHaveLength(4);
  });

  // Was a bug (fixed in d89b99f): the shared pacer paused every request for the whole
  // Retry-After, uncounted by any budget. The pause is now capped at the per-request limit.
  it('a Retry-After of an hour does not make the other requests wait an hour', async () => {
    // The first server's device list is refused for an hour; eleven other servers' lists remain.
    const many = await startSandbox({ devices: 500, servers: 12, seed: 41 });
    try {
      many.setFaults({
        rules: [
          {
            kind: 'tooManyRequests',
            endpoints: 'mdmServers.devices',
            nth: 1,
            retryAfterSeconds: 3600,
          },
        ],
      });
      const clock = virtualClock();
      const graph = await collectFromSandbox(many, {
        collector: { http: { now: clock.now, sleep: clock.sleep } },
      });
      expect(stepStatuses(graph).pop()?.status).toBe('failure');
      expect(Math.max(0, ...clock.waits)).toBeLessThanOrEqual(300_000);
    } finally {
      await many.stop();
    }
  });
  // The run's budget counts the time failed attempts take, not only the waits between them: a
  // service that hangs every request must end the run after the budget, not after hours.
  it('every API request hangs: the run budget (RETRY_BUDGET_SECONDS) is spent by the timed-out attempts and the run ends with the budget error', async () => {
    sandbox.setFaults({ rules: [{ kind: 'hang', endpoints: 'api' }] });
    const started = Date.now();
    const { result: graph, output } = await captureOutput(() =>
      collectFromSandbox(sandbox, {
        env: { LOG_LEVEL: 'warn', RETRY_BUDGET_SECONDS: '1' },
        // Attempts are practically unlimited and the waits between them tiny: only the time
        // the hung attempts take (250 ms each) can spend a budget of one second.
        collector: {
          http: { maxAttempts: 1_000, baseBackoffMs: 1, maxBackoffMs: 2, requestTimeoutMs: 250 },
        },
      }),
    );
    const elapsedMs = Date.now() - started;
    expect(graph.error).toBeUndefined();
    expect(stepStatuses(graph)).toEqual([
      { id: 'fetch-organization', status: 'success' },
      { id: 'fetch-mdm-servers', status: 'failure' },
      { id: 'fetch-devices', status: 'failure' },
      {
        id: 'build-mdm-server-device-relationships',
        status: 'partial_success_due_to_dependency_failure',
      },
    ]);
    for (const step of ['Fetch Devices', 'Fetch MDM Servers']) {
      expect(stepFailureReason(output, step)).toMatch(
        /^Provider retries exceeded at GET \/v1\/(orgDevices|mdmServers): NETWORK_ERROR no complete answer within 250 ms; gave up: the run's retry budget \(retryBudgetSeconds = 1 s\) is spent\./,
      );
    }
    // A handful of hung attempts, not the hundreds the tiny waits alone would have allowed
    // (1 s of 1-2 ms waits, 250 ms per attempt: over two minutes of hanging per request).
    expect(sandbox.stats().faultsInjected.hang).toBeLessThanOrEqual(12);
    // A generous bound that only a run that hangs could break: the budget and the attempts in
    // flight when it ran out make about 1.5 s.
    expect(elapsedMs).toBeLessThan(30_000);
  });
  describe('time spent waiting for a turn is not time lost to a failure', () => {
    // Sixty servers' id lists fetched side by side in the assignments step (no prefetch), each
    // answer 100 ms late; three of them answer 503 at once, after their requests had waited
    // about a second for one of the in-flight slots. The failed attempts take 300 ms in all and
    // the waits between retries a few ms: a budget of 2 s is plenty.
    let many: Sandbox;
    beforeAll(async () => {
      many = await startSandbox({ devices: 600, servers: 60, seed: 41 });
    });
    beforeEach(() => {
      many.resetStats();
      many.setFaults({
        latency: { endpoints: 'mdmServers.devices', ms: 100 },
        rules: [
          { kind: 'serverError', status: 503, endpoints: 'mdmServers.devices', nth: [48, 52, 56] },
        ],
      });
    });
    afterAll(() => many.stop());

    const collectWith = (maxInFlight?: number) =>
      captureOutput(() =>
        collectFromSandbox(many, {
          env: { LOG_LEVEL: 'warn', RETRY_BUDGET_SECONDS: '2' },
          collector: {
            prefetchIdPages: 0,
            http: { maxInFlight, baseBackoffMs: 5, maxBackoffMs: 20 },
          },
        }),
      );

    it('with nothing queued (64 in flight), the three 503s fit in a 2 s budget', async () => {
      const { result: graph } = await collectWith(64);
      expect(stepStatuses(graph).pop()).toEqual({
        id: 'build-mdm-server-device-relationships',
        status: 'success',
      });
      expect(many.stats().byEndpoint['mdmServers.devices']).toEqual({ '200': 60, '503': 3 });
    });

    // Was a bug: a failed attempt was charged to the run's budget from before it waited for an
    // in-flight slot and for the pacer, so the time a request spent queued behind others was
    // charged as if the failure had cost it: with the default 4 in flight the same three fast
    // 503s spent the 2 s budget and the assignments step failed. It is now charged from when
    // it is sent.
    it('with the default 4 in flight, the same three 503s still fit in a 2 s budget', async () => {
      const { result: graph } = await collectWith(undefined);
      expect(many.stats().byEndpoint['mdmServers.devices']['503']).toBe(3);
      expect(stepStatuses(graph).pop()).toEqual({
        id: 'build-mdm-server-device-relationships',
        status: 'success',
      });
    });
  });
});
