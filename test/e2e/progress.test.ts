import { IntegrationLogger } from '@jupiterone/integration-sdk-runtime';

import { collectFromSandbox } from '../helpers/collect';
import { Sandbox, startSandbox } from '../sandbox';

const DEVICES = 2500;

interface LogLine {
  fields: Record<string, unknown>;
  message: string;
}

/** What the run logged at info level, from every step's logger (they are all IntegrationLoggers). */
function infoLines(spy: jest.SpyInstance): LogLine[] {
  return spy.mock.calls.map((args: unknown[]) =>
    typeof args[0] === 'string'
      ? { fields: {}, message: args[0] }
      : { fields: (args[0] ?? {}) as Record<string, unknown>, message: String(args[1]) },
  );
}

function countByType(objects: Array<{ _type: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { _type } of objects) counts[_type] = (counts[_type] ?? 0) + 1;
  return counts;
}

describe('what a run tells the person watching it', () => {
  let sandbox: Sandbox;
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: DEVICES, servers: 5, seed: 11 });
  });
  afterAll(() => sandbox.stop());
  beforeEach(() => {
    spy = jest.spyOn(IntegrationLogger.prototype, 'info');
  });
  afterEach(() => spy.mockRestore());

  it('logs device progress as pages arrive, with the total Apple gives', async () => {
    const graph = await collectFromSandbox(sandbox);
    expect(graph.error).toBeUndefined();
    const progress = infoLines(spy).filter((line) => line.message.startsWith('Devices: '));
    // The first page always reports (later ones at most every few seconds).
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0].message).toMatch(/^Devices: 1000 of 2500 collected \(page 1\)/);
    expect(progress[0].fields).toMatchObject({ devices: 1000, total: DEVICES, page: 1 });
    for (const line of progress) {
      expect(line.message).toMatch(/^Devices: \d+ of 2500 collected/);
    }
    expect(infoLines(spy).map((line) => line.message)).toContain(`Collected ${DEVICES} devices.`);
  });

  it('ends with a summary of entities and relationships per _type that matches the graph', async () => {
    const graph = await collectFromSandbox(sandbox);
    expect(graph.error).toBeUndefined();
    const summaries = infoLines(spy).filter((line) =>
      line.message.startsWith('Collection summary:'),
    );
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;

    const entities = countByType(graph.entities);
    const relationships = countByType(graph.relationships);
    // Every type the run wrote, with its exact count, and no type it did not write.
    expect(summary.fields).toEqual({ entities, relationships });
    expect(Object.keys(entities)).toHaveLength(3);
    expect(Object.keys(relationships)).toHaveLength(3);
    for (const [type, count] of Object.entries({ ...entities, ...relationships })) {
      expect(summary.message).toContain(`${count} ${type}`);
    }
    expect(entities.apple_business_manager_org_device).toBe(DEVICES);
  });

  it('ends, whatever the outcome, with what the run asked of Apple and what that cost', async () => {
    sandbox.resetStats();
    const quiet = await collectFromSandbox(sandbox);
    expect(quiet.error).toBeUndefined();
    const [line] = infoLines(spy).filter((l) => l.message.startsWith('Requests: '));
    expect(line.fields).toEqual({
      requests: sandbox.stats().totalRequests,
      tokens: 1,
      throttled: 0,
      retries: 0,
      retryWaitMs: 0,
      pausedMs: 0,
      retryBudgetSpentMs: 0,
      retryBudgetMs: 1_800_000,
      paceIntervalMs: 0,
    });
    expect(line.message).toBe(
      `Requests: ${sandbox.stats().totalRequests} sent (retries included), 1 access token issued; 0 answered 429, 0 retried, 0 s waiting to retry; 0 s of the 1800 s retry budget spent (0%); unpaced.`,
    );

    // Throttled, and the device step failing for good: the line still comes, and says so.
    spy.mockClear();
    sandbox.setFaults({
      rateLimit: { rps: 5, endpoints: 'api' },
      rules: [{ kind: 'serverError', status: 503, endpoints: 'orgDevices.list' }],
    });
    try {
      const troubled = await collectFromSandbox(sandbox, {
        collector: { http: { baseBackoffMs: 1, maxBackoffMs: 2, maxAttempts: 3 } },
      });
      expect(troubled.error).toBeUndefined();
      const [after] = infoLines(spy).filter((l) => l.message.startsWith('Requests: '));
      expect(after.fields.throttled).toEqual(expect.any(Number));
      expect(after.fields.retries as number).toBeGreaterThanOrEqual(2);
      expect(after.message).toMatch(/; \d+ answered 429, \d+ retried, \d+ s waiting to retry/);
      // The pauses the 429s imposed on every request are told apart from a request's own waits.
      expect(after.fields.pausedMs as number).toBeGreaterThan(0);
      if ((after.fields.pausedMs as number) >= 500) {
        expect(after.message).toMatch(/, every request held \d+ s by Retry-After pauses;/);
      }
    } finally {
      sandbox.setFaults({});
    }
  });
});
