/**
 * The headline: a walk of 10,000 devices with faults sprinkled over 2% of the
 * requests (429, 503, connection resets mid-body, truncated JSON, HTML pages)
 * yields exactly the graph of a fault-free run, with every step a success and
 * no partial dataset. Page size is Apple's 1,000, so one run makes about 75
 * requests; four seeded runs together inject a dozen faults of every kind.
 */
import { collectFromSandbox, CollectedGraph } from '../helpers/collect';
import { FaultConfig, Sandbox, startSandbox } from '../sandbox';
import {
  compressedClock,
  expectComplete,
  FAST_HTTP,
  graphDifferences,
  ofType,
  pagesServedMoreThanOnce,
  Types,
} from './support';

const DEVICES = 10_000;
const SERVERS = 60;
/** Fault seeds whose runs (deterministically) inject faults; seeds 1, 3 and 8 inject none. */
const FAULT_SEEDS = [2, 4, 5, 6];

/** 2% of requests in all: five kinds at 0.4% each, on every endpoint including the token. */
function sprinkled(seed: number): FaultConfig {
  return {
    seed,
    rules: [
      { kind: 'tooManyRequests', rate: 0.004, retryAfterSeconds: 1 },
      { kind: 'serverError', status: 503, rate: 0.004 },
      { kind: 'reset', rate: 0.004 },
      { kind: 'truncate', rate: 0.004 },
      { kind: 'html', rate: 0.004 },
    ],
  };
}

describe('10,000 devices with 2% of requests faulted', () => {
  let sandbox: Sandbox;
  let baseline: CollectedGraph;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: DEVICES, servers: SERVERS, seed: 5 });
    baseline = await collectFromSandbox(sandbox, { collector: { http: FAST_HTTP } });
  });
  afterAll(() => sandbox.stop());

  it('has a complete fault-free baseline', () => {
    expectComplete(baseline);
    expect(ofType(baseline.entities, Types.DEVICE)).toHaveLength(DEVICES);
    expect(ofType(baseline.entities, Types.MDM_SERVER)).toHaveLength(SERVERS);
    expect(ofType(baseline.relationships, Types.ORG_HAS_DEVICE)).toHaveLength(DEVICES);
    expect(ofType(baseline.relationships, Types.SERVER_HAS_DEVICE).length).toBeGreaterThan(
      DEVICES / 2,
    );
  });

  it('yields the identical graph under every fault seed', async () => {
    const injected: Record<string, number> = {};
    for (const seed of FAULT_SEEDS) {
      sandbox.setFaults(sprinkled(seed));
      sandbox.resetStats();
      const graph = await collectFromSandbox(sandbox, {
        // Time runs 50x faster for the transport, so a 1 s Retry-After and the
        // pace learned from a stray 429 cost milliseconds, not the test's budget.
        collector: { http: { ...FAST_HTTP, ...compressedClock(50) } },
      });
      const stats = sandbox.stats();
      expectComplete(graph);
      expect(graphDifferences(baseline, graph)).toEqual([]);
      // Recovery resumes from the failed page's own cursor: no page is fetched twice.
      expect(pagesServedMoreThanOnce(stats)).toEqual([]);
      for (const [kind, count] of Object.entries(stats.faultsInjected)) {
        injected[kind] = (injected[kind] ?? 0) + count;
      }
    }
    // The faults really happened, of every kind (the counts are fixed by the seeds).
    expect(Object.keys(injected).sort()).toEqual(
      ['html', 'reset', 'serverError', 'tooManyRequests', 'truncate'].sort(),
    );
    expect(Object.values(injected).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
  });
});
