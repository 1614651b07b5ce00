/**
 * The headline: a walk of 10,000 devices with faults sprinkled over 2% of the
 * requests (429, 503, connection resets mid-body, truncated JSON, HTML pages)
 * yields exactly the graph of a fault-free run, with every step a success and
 * no partial dataset. Page size is Apple's 1,000, so one run makes about 75
 * requests: 10 device pages, 60 MDM server id lists, the server list, a token.
 *
 * Which requests fail is drawn from a seed, 2% a request, separately for the
 * device walk and for every other request: the device walk runs alongside the
 * servers' id lists, and one shared stream of draws would hand a draw to
 * whichever request happened to arrive first. Drawn this way each run's faults
 * are fixed by its seed, so the test can say exactly which ones the sandbox
 * must have served. A 10-page walk at 2% is missed four times in five, so the
 * seeds are ones whose draws fault the device walk too.
 */
import { collectFromSandbox, CollectedGraph } from '../helpers/collect';
import { Rng } from '../sandbox/prng';
import {
  ENDPOINT_NAMES,
  FaultConfig,
  FaultRule,
  Sandbox,
  SandboxStats,
  startSandbox,
} from '../sandbox';
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
const DEVICE_PAGES = DEVICES / 1000;
/** Requests other than the device walk in a fault-free run: the token, the server list, 60 id lists. */
const OTHER_REQUESTS = 1 + 1 + SERVERS;
const RATE = 0.02;
/** Seeds whose draws fault the device walk; together they fault it with every kind. */
const FAULT_SEEDS = [6, 65, 142, 310];

const KINDS = ['tooManyRequests', 'serverError', 'reset', 'truncate', 'html'] as const;
type Kind = (typeof KINDS)[number];
/** How each kind shows in the sandbox's per-endpoint statistics (a cut page is a 200). */
const STATUS_OF: Record<Kind, string> = {
  tooManyRequests: '429',
  serverError: '503',
  reset: 'reset',
  truncate: '200',
  html: '502',
};

function ruleFor(kind: Kind, endpoints: FaultRule['endpoints'], nth: number[]): FaultRule {
  switch (kind) {
    case 'tooManyRequests':
      return { kind, endpoints, nth, retryAfterSeconds: 1 };
    case 'serverError':
      return { kind, endpoints, nth, status: 503 };
    default:
      return { kind, endpoints, nth };
  }
}

/** The faults of one seed, and the kinds the sandbox must serve to the device walk and to the rest. */
function sprinkled(seed: number): {
  faults: FaultConfig;
  expected: { deviceWalk: Kind[]; others: Kind[] };
} {
  const rng = new Rng(seed, 0, 0x4ead);
  const groups = [
    { endpoints: 'orgDevices.list' as const, requests: DEVICE_PAGES },
    {
      endpoints: ENDPOINT_NAMES.filter((name) => name !== 'orgDevices.list'),
      requests: OTHER_REQUESTS,
    },
  ];
  const rules: FaultRule[] = [];
  const expected: Kind[][] = [];
  for (const group of groups) {
    // The nth request of the group fails with probability RATE, of a kind drawn alike; each
    // fault adds its retry to the group's requests, so later positions can be reached too.
    const planned: Array<[number, Kind]> = [];
    for (let n = 1; n <= 200; n++) {
      const draw = rng.float();
      if (draw < RATE) planned.push([n, KINDS[Math.floor((draw / RATE) * KINDS.length)]]);
    }
    const fired: Kind[] = [];
    let requests = group.requests;
    for (const [n, kind] of planned) {
      if (n > requests) break;
      fired.push(kind);
      requests += 1;
    }
    expected.push(fired);
    for (const kind of KINDS) {
      const nth = planned.filter(([, k]) => k === kind).map(([n]) => n);
      if (nth.length > 0) rules.push(ruleFor(kind, group.endpoints, nth));
    }
  }
  return { faults: { rules }, expected: { deviceWalk: expected[0], others: expected[1] } };
}

function count(kinds: Kind[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/**
 * The device list's answers that were not a complete page, by status: the
 * faults it was served (a truncated page is a 200 that was not a page).
 */
function deviceListFaults(stats: SandboxStats): Record<string, number> {
  const answers = { ...stats.byEndpoint['orgDevices.list'] };
  const pages = Object.values(stats.pagesServed['orgDevices.list'] ?? {}).reduce(
    (a, b) => a + b,
    0,
  );
  answers['200'] = (answers['200'] ?? 0) - pages;
  return Object.fromEntries(Object.entries(answers).filter(([, n]) => n !== 0));
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

  it('yields the identical graph under every fault seed, with faults in the device walk', async () => {
    const onDeviceWalk: Kind[] = [];
    let total = 0;
    for (const seed of FAULT_SEEDS) {
      const { faults, expected } = sprinkled(seed);
      sandbox.setFaults(faults);
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
      // The sandbox served exactly the faults the seed drew, the device walk's among them.
      expect({ seed, faults: stats.faultsInjected }).toEqual({
        seed,
        faults: count([...expected.deviceWalk, ...expected.others]),
      });
      const wanted: Record<string, number> = {};
      for (const kind of expected.deviceWalk) {
        wanted[STATUS_OF[kind]] = (wanted[STATUS_OF[kind]] ?? 0) + 1;
      }
      expect({ seed, deviceList: deviceListFaults(stats) }).toEqual({ seed, deviceList: wanted });
      expect(expected.deviceWalk.length).toBeGreaterThan(0);
      onDeviceWalk.push(...expected.deviceWalk);
      total += expected.deviceWalk.length + expected.others.length;
    }
    // Every kind of fault hit the 10,000-device walk itself, and the runs injected a dozen or so.
    expect([...new Set(onDeviceWalk)].sort()).toEqual([...KINDS].sort());
    expect(total).toBeGreaterThanOrEqual(10);
  });
});
