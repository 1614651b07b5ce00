import { promises as fs } from 'fs';
import os from 'os';
import path from 'path';

import { Steps } from '../../src/steps/constants';
import {
  ComparedRun,
  comparedRun,
  materializeBase,
  median,
  Pair,
  renderComparison,
  runPairs,
  summarize,
} from './compare';
import type { ScenarioResult } from './pipeline';
import { ROOT } from './processes';

const MB = 1024 * 1024;

function run(overrides: Partial<ComparedRun> = {}): ComparedRun {
  return {
    wallMs: 4000,
    ratio: 1.3,
    devicesStepMs: 3000,
    assignmentsStepMs: 600,
    cpuMs: 5000,
    peakRssBytes: 300 * MB,
    memoryRatio: 1,
    throttled: 0,
    economyPass: true,
    ...overrides,
  };
}

/** What `comparedRun` reads of a scenario's result; the rest is not needed here. */
function scenarioResult(srcDir: string, wallMs: number): ScenarioResult {
  return {
    options: { srcDir },
    collector: {
      wallMs,
      cpuMs: wallMs + 1000,
      probe: { peakRssBytes: 300 * MB, mainThread: { busyMs: wallMs - 1200, idleMs: 1100 } },
      steps: { executionMs: wallMs - 800, steps: { [Steps.DEVICES]: wallMs - 1500 } },
    },
    ratios: { wall: wallMs / 3000, memory: 1 },
    throttled: 0,
    economy: { pass: true, problems: [] },
  } as unknown as ScenarioResult;
}

describe('comparing two versions of src/ in alternating pairs', () => {
  it('takes the median of an odd and an even number of figures', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("sums up each figure: both sides' medians, the median of the pairs' differences, and who was lower", () => {
    const pairs: Pair[] = [
      { change: run({ wallMs: 4000 }), base: run({ wallMs: 4300 }) },
      { change: run({ wallMs: 4500 }), base: run({ wallMs: 4400 }) },
      { change: run({ wallMs: 3900 }), base: run({ wallMs: 4100 }) },
    ];
    const wall = summarize(pairs).find((s) => s.label === 'wall s');
    expect(wall).toEqual({
      label: 'wall s',
      changeMedian: 4000,
      baseMedian: 4300,
      // Differences -300, +100, -200: their median, not the difference of the medians (-300).
      medianDifference: -200,
      lowestDifference: -300,
      highestDifference: 100,
      lower: 2,
      higher: 1,
      same: 0,
      pairs: 3,
    });
    const cpu = summarize(pairs).find((s) => s.label === 'collector CPU s');
    expect(cpu).toMatchObject({ medianDifference: 0, lower: 0, higher: 0, same: 3 });
  });

  it('leaves out a figure that one side of every pair lacks, and counts only the pairs that have it', () => {
    const pairs: Pair[] = [
      { change: run({ assignmentsStepMs: undefined }), base: run() },
      { change: run({ devicesStepMs: 2800 }), base: run({ devicesStepMs: undefined }) },
      { change: run({ devicesStepMs: 2800 }), base: run({ devicesStepMs: 3000 }) },
    ];
    const labels = summarize(pairs).map((s) => s.label);
    expect(labels).toContain('devices step s');
    expect(summarize(pairs).find((s) => s.label === 'devices step s')).toMatchObject({
      pairs: 2,
      lower: 1,
      same: 1,
    });
    const none = [{ change: run({ assignmentsStepMs: undefined }), base: run() }];
    expect(summarize(none).map((s) => s.label)).not.toContain('assignments step s');
  });

  it('renders a table with signed differences, the ratios in the order measured and any economy failure', () => {
    const pairs: Pair[] = [
      {
        change: run({
          wallMs: 4000,
          ratio: 1.25,
          peakRssBytes: 310 * MB,
          busyMs: 3400,
          pageFaults: 60_000,
        }),
        base: run({ wallMs: 4250, ratio: 1.32, busyMs: 3650, pageFaults: 90_000 }),
      },
      {
        change: run({ wallMs: 4100, ratio: 1.28, economyPass: false }),
        base: run({ wallMs: 4100, ratio: 1.3 }),
      },
    ];
    const text = renderComparison('100000 devices', pairs);
    expect(text).toContain('### 100000 devices: 2 alternating pairs');
    expect(text).toContain('| wall s | 4.05 | 4.17 | -0.13 | -0.25 to 0.00 | 1 of 2 |');
    expect(text).toContain('| peak RSS MB | 305 | 300 | +5 | 0 to +10 | 0 of 2 |');
    // A difference that rounds to zero carries no sign.
    expect(text).toContain('| collector CPU s | 5.00 | 5.00 | 0.00 | 0.00 to 0.00 | 0 of 2 |');
    // The main thread's busy time, where both sides of a pair measured it.
    expect(text).toContain(
      '| main thread busy s | 3.40 | 3.65 | -0.25 | -0.25 to -0.25 | 1 of 1 |',
    );
    expect(text).not.toContain('main thread idle s');
    // The collector's page faults, where measured: the mark of fresh memory touched.
    expect(text).toContain(
      '| collector page faults | 60000 | 90000 | -30000 | -30000 to -30000 | 1 of 1 |',
    );
    expect(text).toContain('Ratios, this src: 1.25x, 1.28x');
    expect(text).toContain('Ratios, base:     1.32x, 1.30x');
    expect(text).toContain('Request economy FAILED in 1 of 2 pairs.');
    expect(renderComparison('x', [pairs[0]])).not.toContain('FAILED');
    expect(renderComparison('x', [pairs[0]])).toContain('### x: 1 alternating pair\n');
  });

  it('alternates which side runs first, and pairs each run with its own side', async () => {
    const order: string[] = [];
    let clock = 4000;
    const pairs = await runPairs(
      3,
      '/change/src',
      '/base/src',
      async (srcDir) => {
        order.push(srcDir);
        // The machine slows down through the session: every run takes 100 ms more.
        clock += 100;
        return scenarioResult(srcDir, srcDir === '/change/src' ? clock - 50 : clock);
      },
      () => undefined,
    );
    expect(order).toEqual([
      '/base/src',
      '/change/src',
      '/change/src',
      '/base/src',
      '/base/src',
      '/change/src',
    ]);
    expect(pairs.map((p) => [p.change.wallMs, p.base.wallMs])).toEqual([
      [4150, 4100],
      [4250, 4400],
      [4550, 4500],
    ]);
  });

  it('reads the figures of a scenario result, the rate floor first when there is one', () => {
    const result = scenarioResult('/x/src', 4500);
    expect(comparedRun(result)).toMatchObject({
      wallMs: 4500,
      ratio: 1.5,
      devicesStepMs: 3000,
      assignmentsStepMs: undefined,
      cpuMs: 5500,
      busyMs: 3300,
      idleMs: 1100,
      economyPass: true,
    });
    const rateLimited = { ...result, ratios: { ...result.ratios, rate: 1.1 } };
    expect(comparedRun(rateLimited).ratio).toBe(1.1);
  });
});

describe('the base of a comparison', () => {
  let workDir: string;
  beforeEach(async () => {
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'abm-compare-'));
  });
  afterEach(async () => {
    await fs.rm(workDir, { recursive: true, force: true });
  });

  it('is a directory holding a copy of src/ as given', async () => {
    const copy = path.join(workDir, 'candidate', 'src');
    await fs.mkdir(copy, { recursive: true });
    await fs.writeFile(path.join(copy, 'index.ts'), 'export {};\n');
    expect(await materializeBase(copy, workDir)).toBe(copy);
  });

  it("or a git revision, whose src/ is written out beside this checkout's node_modules", async () => {
    const src = await materializeBase('HEAD', workDir);
    const committed = await fs.readFile(path.join(src, 'index.ts'), 'utf8');
    expect(committed).toContain('export const invocationConfig');
    expect(await fs.realpath(path.join(src, '..', 'node_modules'))).toBe(
      await fs.realpath(path.join(ROOT, 'node_modules')),
    );
  });

  it('and anything else is refused with what it should have been', async () => {
    await expect(materializeBase('no-such-revision-or-dir', workDir)).rejects.toThrow(
      '--compare no-such-revision-or-dir: neither a directory holding a copy of src/ (with its index.ts) nor a git revision of this repository',
    );
  });
});
