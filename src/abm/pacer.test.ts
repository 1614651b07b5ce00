import { SimulatedClock } from '../../test/helpers/simulatedClock';
import { MAX_INTERVAL_MS, Pacer } from './pacer';

function pacerOn(clock: SimulatedClock, probeAfterSuccesses?: number): Pacer {
  return new Pacer({ now: clock.now, sleep: clock.sleep, probeAfterSuccesses });
}

/** Waits for the pacer's turn, moving the clock as far as that takes. */
async function acquire(clock: SimulatedClock, pacer: Pacer): Promise<void> {
  let acquired = false;
  const turn = pacer.acquire().then(() => {
    acquired = true;
  });
  await clock.runUntil(() => acquired);
  await turn;
}

/** `count` requests, each started in its turn and succeeding `overMs / count` later. */
async function succeed(clock: SimulatedClock, pacer: Pacer, count: number, overMs: number) {
  for (let i = 0; i < count; i++) {
    await acquire(clock, pacer);
    await clock.advance(overMs / count);
    pacer.onSuccess();
  }
}

/**
 * A pacer on a clock set by hand, told what the transport tells it: each call names when a
 * request left and when its answer came, in the order the answers came.
 */
class Replay {
  readonly pacer: Pacer;
  private time = 0;

  constructor(options: { probeAfterSuccesses?: number } = {}) {
    this.pacer = new Pacer({
      now: () => this.time,
      sleep: async () => {},
      probeAfterSuccesses: options.probeAfterSuccesses,
    });
  }

  get intervalMs(): number {
    return this.pacer.currentIntervalMs;
  }

  /** The request sent at `sentAt` (not known if undefined) succeeded at `at`. */
  ok(sentAt: number | undefined, at: number): this {
    this.time = at;
    this.pacer.onSuccess(sentAt);
    return this;
  }

  /** A request sent at each of `sentTimes` succeeded, each `afterMs` later. */
  oks(sentTimes: readonly number[], afterMs: number): this {
    for (const sentAt of sentTimes) this.ok(sentAt, sentAt + afterMs);
    return this;
  }

  /** The request sent at `sentAt` was refused at `at`, to wait `retryAfterMs`. */
  refused(sentAt: number, at: number, retryAfterMs = 1000): this {
    this.time = at;
    this.pacer.onThrottled(retryAfterMs, sentAt);
    return this;
  }

  /**
   * One cycle of a limit a pace is a little over: from `fromMs` (a pause's end), `count`
   * successes `spacingMs` apart, each back in 5 ms, then the next request refused, its 429 back in
   * 5 ms. Gives the end of the pause the 429 asks for.
   */
  cycle(fromMs: number, count: number, spacingMs: number, retryAfterMs = 1000): number {
    this.oks(spaced(count, fromMs, spacingMs), 5);
    const refusedAt = fromMs + count * spacingMs;
    this.refused(refusedAt, refusedAt + 5, retryAfterMs);
    return refusedAt + 5 + retryAfterMs;
  }

  /** Each answer in the order given. */
  play(answers: ReadonlyArray<{ at: number; sentAt: number; refused?: boolean }>): this {
    for (const { at, sentAt, refused } of answers) {
      if (refused) this.refused(sentAt, at);
      else this.ok(sentAt, at);
    }
    return this;
  }
}

/** `count` times `stepMs` apart, the first at `fromMs`. */
const spaced = (count: number, fromMs: number, stepMs: number): number[] =>
  Array.from({ length: count }, (_, i) => fromMs + i * stepMs);

/**
 * A server's answer under a limit of `limit` requests in any one-second window (the sandbox's
 * rule): undefined when it admits the request, else the Retry-After in ms: 1 s, or with
 * `untilFree` the whole seconds until the window frees, as the sandbox says.
 */
function perSecondLimit(
  limit: number | ((at: number) => number),
  { untilFree = false }: { untilFree?: boolean } = {},
): (at: number) => number | undefined {
  let admitted: number[] = [];
  return (at) => {
    admitted = admitted.filter((t) => t > at - 1000);
    if (admitted.length >= (typeof limit === 'number' ? limit : limit(at))) {
      return untilFree ? Math.max(1, Math.ceil((admitted[0] + 1000 - at) / 1000)) * 1000 : 1000;
    }
    admitted.push(at);
    return undefined;
  };
}

/**
 * A first burst, 100 back in the last second (taken as 99), then a 429 asking `retryAfterMs`, with
 * no probe in the way: each later 429 is lone, at a pace that held. Gives the pause's end.
 */
function afterFirstBurst(replay: Replay, retryAfterMs = 1000): number {
  replay.oks(spaced(100, 0, 5), 25).refused(500, 525, retryAfterMs);
  return 525 + retryAfterMs;
}

describe('Pacer', () => {
  it('adds up the time its pauses held requests, overlapping pauses once', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    expect(pacer.pausedMs).toBe(0);
    pacer.onThrottled(2000); // 0 to 2000
    await clock.advance(500);
    pacer.onThrottled(1000); // within the first: nothing new
    pacer.onThrottled(3000); // to 3500: 1500 more
    await clock.advance(5000);
    pacer.onThrottled(1000); // 5500 to 6500
    expect(pacer.pausedMs).toBe(2000 + 1500 + 1000);
  });

  it('does not pace before the first 429', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    for (let i = 0; i < 100; i++) await acquire(clock, pacer);
    expect(clock.time).toBe(0);
    expect(pacer.currentIntervalMs).toBe(0);
  });

  it('learns the pace from the requests accepted in the second before the first 429', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await clock.advance(5000);
    // An old success, outside the window, does not count.
    pacer.onSuccess();
    await clock.advance(2000);
    await succeed(clock, pacer, 20, 400);
    pacer.onThrottled(1000);
    // One of the 20 counted may have arrived before the server's second: 19 in a second.
    expect(pacer.currentIntervalMs).toBeCloseTo((1000 / 19) * 1.03, 5);
  });

  it('counts every success of a second too few to learn from', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 5, 400);
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
  });

  it('counts in the successes that were in flight when the first 429 came, if sent before the refused request', async () => {
    const replay = new Replay();
    // Six requests leave at 0, 100, ..., 500 ms; the server admits five and refuses the last.
    // When its 429 comes, only three answers are back.
    replay.oks(spaced(3, 0, 100), 150).refused(500, 650);
    expect(replay.intervalMs).toBeCloseTo((1000 / 3) * 1.03, 5);
    expect(replay.pacer.isProvisional).toBe(true);
    // The two still in flight were admitted in the second that refused the sixth.
    replay.ok(300, 690);
    expect(replay.intervalMs).toBeCloseTo((1000 / 4) * 1.03, 5);
    replay.ok(400, 730);
    expect(replay.intervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
    // Provisional as judged when the 429 came (3 back): a stray in a first burst looks the same.
    expect(replay.pacer.isProvisional).toBe(true);
    // Not counted: one sent after the refused one, one sent more than a second before it (a slow
    // answer, admitted in an earlier second), and one whose sending time is unknown.
    replay.ok(520, 770).ok(-600, 770).ok(undefined, 770);
    expect(replay.intervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
  });

  it('takes in only the successes sent before every refused request of the burst', async () => {
    const replay = new Replay();
    replay.oks(spaced(5, 0, 100), 50);
    // One more, sent at 435 and back at 448, before the refusal of the request sent at 450.
    replay.ok(435, 448).refused(450, 500);
    expect(replay.intervalMs).toBeCloseTo((1000 / 6) * 1.03, 5);
    // Another refusal during the pause, of a request that left earlier, at 420: a success sent
    // after it was not admitted in its second, so the second is counted again without the one
    // sent at 435, and one sent at 430 is not taken in either.
    replay.refused(420, 510);
    expect(replay.intervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
    replay.ok(430, 520);
    expect(replay.intervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
    replay.ok(410, 520);
    expect(replay.intervalMs).toBeCloseTo((1000 / 6) * 1.03, 5);
  });

  it('counts the second by when its requests were sent when they were far apart', async () => {
    // One request at a time, answers of 500, 200 and 550 ms; the fourth, sent at 1250, is refused
    // by a limit of 2 a second: the server's second held the two sent at 500 and 700, while the
    // client's last second (300 to 1300) saw three answers complete.
    const replay = new Replay().ok(0, 500).ok(500, 700).ok(700, 1250).refused(1250, 1300);
    expect(replay.intervalMs).toBeCloseTo((1000 / 2) * 1.03, 5);
  });

  it('counts the second by completions, less one, when its requests were close together', async () => {
    // 21 requests 45 ms apart, each answered in 25 ms; the 22nd, sent at 945, is refused, its 429
    // back at 1045. Sending times that close move with a busy event loop by as much as their
    // spacing, so the count is the completions' of the last second (20, less one), not the sends'
    // of the second before the refused one (21, less one).
    const replay = new Replay().oks(spaced(21, 0, 45), 25).refused(945, 1045);
    expect(replay.intervalMs).toBeCloseTo((1000 / 19) * 1.03, 5);
  });

  it('keeps a held pace through a lone 429 answered at once while slow answers are in flight', async () => {
    // Found in review: a held pace of 5 a second, answers of 500 ms, one stray 429 answered in
    // 10 ms. Counted by sending time, the second before it holds only the answers already back
    // (2), which would read as a limit of 2; the evidence against a held pace is the completions'.
    const replay = new Replay({ probeAfterSuccesses: 100_000 });
    const answers = [
      ...spaced(5, 0, 100).map((sentAt) => ({ at: sentAt + 50, sentAt })),
      { at: 560, sentAt: 500, refused: true },
      ...spaced(59, 2000, 206).map((sentAt) => ({ at: sentAt + 500, sentAt })),
    ].sort((a, b) => a.at - b.at);
    const stray = { at: 2000 + 59 * 206 + 10, sentAt: 2000 + 59 * 206, refused: true };
    replay.play(answers.filter((answer) => answer.at < stray.at));
    const held = replay.intervalMs;
    replay.play([stray, ...answers.filter((answer) => answer.at > stray.at)]);
    expect(held).toBeCloseTo((1000 / 5) * 1.03, 5);
    expect(replay.intervalMs).toBe(held);
  });

  it('does not take in successes in flight on top of a count of completions', async () => {
    // Found in review: a limit of 10 a second, four in flight, answers of 200 to 600 ms, 429s
    // answered at once. The last second held 11 completions, some of requests sent before the
    // second the server counted; its sends by sending time were 8. Adding the two still in flight
    // to the completions' count would pace at 12.6 a second against the limit of 10.
    const replay = new Replay().play([
      ...[0, 0, 0, 0].map((sentAt) => ({ at: 600, sentAt })),
      ...[600, 600, 600, 600].map((sentAt) => ({ at: 1000, sentAt })),
      ...[1000, 1000, 1000].map((sentAt) => ({ at: 1200, sentAt })),
      { at: 1210, sentAt: 1200, refused: true },
      { at: 1700, sentAt: 1200 },
      { at: 1700, sentAt: 1200 },
    ]);
    // The completions' count, less one: 10 (by sending time alone, 7 in the second and 2 in
    // flight would have been taken for requests far apart).
    expect(replay.intervalMs).toBeCloseTo((1000 / 10) * 1.03, 5);
  });

  it('forgets the successes still in flight once the pace moves on its own', async () => {
    // Found in review: a straggler of the first second, answering after a provisional pace had
    // doubled, set the pace back.
    const replay = new Replay().ok(0, 100).ok(200, 300).refused(500, 510);
    expect(replay.intervalMs).toBeCloseTo((1000 / 2) * 1.03, 5);
    replay.oks(spaced(5, 1550, 600), 50);
    const doubled = replay.intervalMs;
    expect(doubled).toBeCloseTo((1000 / 4) * 1.03, 5);
    replay.ok(400, 4000);
    expect(replay.intervalMs).toBe(doubled);
  });

  it('forgets the successes still in flight at the next 429 that sets a pace', async () => {
    const replay = new Replay().oks(spaced(5, 0, 150), 50).refused(750, 760);
    // After the pause, a second sent at the pace, then a refusal the server's count backs.
    replay.oks(spaced(3, 1950, 400), 50).refused(2990, 3000);
    const paced = replay.intervalMs;
    // A success of the first burst, very late: it belongs to neither second.
    replay.ok(700, 4100);
    expect(replay.intervalMs).toBe(paced);
  });

  it('never falls back from a refused probe to a pace faster than the one before it', async () => {
    const replay = new Replay({ probeAfterSuccesses: 5 });
    // Learn 5 a second from a second of sends 200 ms apart.
    replay.oks(spaced(5, 100, 200), 20).refused(1000, 1010);
    const learned = replay.intervalMs;
    expect(learned).toBeCloseTo((1000 / 5) * 1.03, 5);
    // Five more successes: a probe 2% faster.
    replay.oks(spaced(5, 2180, 200), 20);
    expect(replay.intervalMs).toBeLessThan(learned);
    // Refused, with many successes of its second still in flight: they may confirm the pace
    // before the probe, not a faster one.
    replay.refused(3290, 3300);
    for (const sentAt of spaced(5, 3000, 50)) replay.ok(sentAt, 3300);
    expect(replay.intervalMs).toBeCloseTo(learned, 5);
  });

  it('keeps each success with its sending time as old ones are dropped', async () => {
    // Thousands of successes, then a second of few far apart: their count by sending time must
    // be theirs, whatever the kept list was compacted to.
    const replay = new Replay();
    for (let i = 0; i < 5000; i++) replay.ok(i - 100, i);
    // Four successes sent 250 ms apart and answered 600 ms later, then the refusal of a fifth:
    // the last second saw all four complete, the second before the refused one sent two.
    replay.oks(spaced(4, 10_000, 250), 600).refused(11_350, 11_360);
    expect(replay.intervalMs).toBeCloseTo((1000 / 2) * 1.03, 5);
  });

  it('counts by completions when either count says the requests were close together', async () => {
    // Eleven sends in the second before the refused one (sent at 1000), 80 ms apart; the refusal
    // took 300 ms to come back, and three of the sends completed before the client's last second
    // began. By completions, 8; by sends, 11: close together, so the completions' count holds.
    const replay = new Replay();
    spaced(11, 100, 80).forEach((sentAt, i) => replay.ok(sentAt, i < 3 ? sentAt + 5 : 411 + i - 3));
    replay.refused(1000, 1300);
    expect(replay.intervalMs).toBeCloseTo((1000 / 8) * 1.03, 5);
  });

  it('counts by completions when the refused request left just after the last pause ended', async () => {
    // Found in review: its second by sending time is then mostly pause, and held nothing.
    const replay = new Replay().ok(0, 100).refused(150, 200);
    expect(replay.pacer.isProvisional).toBe(true);
    // 35 successes 150 ms apart: the provisional pace doubles to nothing.
    replay.oks(spaced(35, 1290, 150), 10);
    expect(replay.intervalMs).toBe(0);
    // A request sent at 1250, just after the pause, refused after a long wait: 7 completions in
    // the last second.
    replay.refused(1250, 6450);
    expect(replay.intervalMs).toBeCloseTo((1000 / 7) * 1.03, 5);
  });

  it('drops a stray 429 of a first burst within a few successes, however much of the burst it counts in', async () => {
    // Found in review: no limit, four in flight; a stray refusal of the sixth request, answered
    // at once, came back with four answers in and the rest of the burst in flight. Counted in,
    // the rest made a count of 5 that was taken as settled: the run kept a pace of 6 a second
    // to its end (376 s against 17 s in the review's simulation).
    const replay = new Replay().oks([0, 0, 0, 0], 25).refused(25.5, 35);
    expect(replay.pacer.isProvisional).toBe(true);
    replay.ok(25, 50).ok(26, 50).ok(26.5, 50);
    replay.oks(spaced(40, 1075, 300), 25);
    expect(replay.intervalMs).toBe(0);
  });

  it('falls back from a refused probe to the count of its second when that is slower, however little', async () => {
    // A pace that held only between lone 429s, each taken for a stray, may be above a limit that
    // tightened: keeping it (tried in the twentieth round, where the count had come one short)
    // left a review's simulation at 90 a second under a pace of 98, with a 429 and a pause every
    // cycle for the rest of the run.
    const replay = new Replay({ probeAfterSuccesses: 40 });
    // A first burst: 21 back in the last second, taken as 20.
    replay.oks(spaced(21, 0, 5), 25).refused(105, 130);
    const held = replay.intervalMs;
    expect(held).toBeCloseTo((1000 / 20) * 1.03, 5);
    // Forty successes at that pace, then a probe 2% faster.
    let sent = 1130;
    for (let i = 0; i < 40; i++) {
      replay.ok(sent, sent + 25);
      sent += held;
    }
    expect(replay.intervalMs).toBeCloseTo(held * 0.98, 5);
    // Refused, with 19 completed in the client's last second: slower than the pace that held.
    const probe = replay.intervalMs;
    replay.oks(spaced(19, sent, probe), 25);
    const refusedAt = sent + 19 * probe + 20;
    replay.refused(refusedAt, refusedAt + 10);
    expect(replay.intervalMs).toBeCloseTo((1000 / 19) * 1.03, 5);
  });

  it('takes lone 429s for a limit when three in a row come after the same count since a pause', async () => {
    const replay = new Replay({ probeAfterSuccesses: 10_000 });
    let pauseEnd = afterFirstBurst(replay);
    const held = replay.intervalMs;
    expect(held).toBeCloseTo((1000 / 99) * 1.03, 5);
    // Cycles of more than 50 requests at the pace, so the last outcomes hold one 429 each time.
    // Counts that vary (55 is more than a twentieth from 60) are strays: the pace holds.
    for (const count of [60, 55, 60, 60]) pauseEnd = replay.cycle(pauseEnd, count, held);
    expect(replay.intervalMs).toBe(held);
    // A third in a row after about the same count (within a twentieth) is a limit's cycle.
    replay.cycle(pauseEnd, 62, held);
    expect(replay.intervalMs).toBeCloseTo((1000 / 60) * 1.03, 5);
    expect(replay.pacer.isProvisional).toBe(false);
  });

  it("counts in a limit's cycle the successes of its second still in flight when its 429 came", async () => {
    const replay = new Replay({ probeAfterSuccesses: 10_000 });
    let pauseEnd = afterFirstBurst(replay);
    const held = replay.intervalMs;
    for (let i = 0; i < 2; i++) pauseEnd = replay.cycle(pauseEnd, 60, held);
    expect(replay.intervalMs).toBe(held);
    // The third cycle: 60 sent, but the last 3 answer after the 429 of the request sent next.
    const sent = spaced(60, pauseEnd, held);
    replay.oks(sent.slice(0, 57), 5);
    const refusedAt = pauseEnd + 60 * held;
    replay.refused(refusedAt, refusedAt + 5);
    // Taken from the 57 back: within a twentieth of 60, the third in a row.
    expect(replay.intervalMs).toBeCloseTo((1000 / 57) * 1.03, 5);
    // The 3 in flight were admitted in the second that refused the next: counted in as they come.
    replay.oks(sent.slice(57), 50);
    expect(replay.intervalMs).toBeCloseTo((1000 / 60) * 1.03, 5);
  });

  it('leaves lone 429s to strays when their requests left a second or more after a pause, or it was short', async () => {
    const replay = new Replay({ probeAfterSuccesses: 10_000 });
    let pauseEnd = afterFirstBurst(replay);
    const held = replay.intervalMs;
    // The same count each time, but the refused request left 1.2 s after the pause's end: the
    // server's window may hold requests from before it, so the count says nothing of the limit.
    for (let i = 0; i < 4; i++) pauseEnd = replay.cycle(pauseEnd, 115, held);
    expect(replay.intervalMs).toBe(held);
    // Nor after a pause shorter than a second, whatever the count: the window held requests sent
    // before the pause as well.
    const short = new Replay({ probeAfterSuccesses: 10_000 });
    pauseEnd = afterFirstBurst(short, 500);
    for (let i = 0; i < 4; i++) pauseEnd = short.cycle(pauseEnd, 60, held, 500);
    expect(short.intervalMs).toBe(held);
  });

  it('counts the next turn from the last one, not from when a late request left', async () => {
    // A timer fires late and a busy event loop delays a request further: counted from when it
    // left, every request lost that lateness (1.4% of the pace in the benchmark).
    let time = 0;
    const pacer = new Pacer({
      now: () => time,
      // Each wait ends 2 ms late.
      sleep: async (ms) => {
        time += ms + 2;
      },
    });
    await pacer.acquire();
    pacer.onSuccess(0);
    pacer.onThrottled(1000, 0);
    const interval = pacer.currentIntervalMs;
    expect(interval).toBeCloseTo(1030, 5);
    const sends: number[] = [];
    for (let i = 0; i < 10; i++) {
      await pacer.acquire();
      sends.push(time);
    }
    // The first after the pause leaves at 1002; each next turn is 1030 ms after the one before.
    expect(sends[0]).toBe(1002);
    expect(sends[9] - sends[0]).toBeCloseTo(9 * interval, 5);
    // A request that comes long after its turn gains at most 5 ms on the next.
    time += 10_000;
    await pacer.acquire();
    const late = time;
    await pacer.acquire();
    expect(time - late).toBeCloseTo(interval - 5 + 2, 5);
  });

  it('keeps the pace that held through a stray 429 long after a probe', async () => {
    // Found in review: the second before a refused request sent at an even pace of N a second
    // holds N - 1 besides it; counted as the limit, every stray after a probe slowed the pace.
    const replay = new Replay({ probeAfterSuccesses: 20 });
    replay.oks(spaced(5, 100, 200), 20).refused(1000, 1010);
    const learned = replay.intervalMs;
    // Thirty successes sent at the pace, each answered in 100 ms.
    let sent = 2100;
    for (let i = 0; i < 30; i++) {
      replay.ok(sent, sent + 100);
      sent += Math.max(100, replay.intervalMs);
    }
    expect(replay.intervalMs).toBeLessThan(learned);
    replay.refused(sent, sent + 10);
    expect(replay.intervalMs).toBeCloseTo(learned, 5);
  });

  it('counts the request that left as a pause ended in the second after it', async () => {
    const replay = new Replay({ probeAfterSuccesses: 3 });
    replay.oks(spaced(5, 100, 200), 20).refused(1000, 1010);
    // The pause ends at 2010: requests leave at 2010, 2260 and 2510 (a probe after the third),
    // and the next, at 2770, is refused. Its second held three, the first at the pause's end.
    replay.oks([2010, 2260, 2510], 20).refused(2770, 2780);
    expect(replay.intervalMs).toBeCloseTo((1000 / 3) * 1.03, 5);
  });

  it('leaves a pace alone when a request of a second counted before is refused after the pause', async () => {
    const replay = new Replay().oks(spaced(5, 0, 100), 50).refused(450, 460);
    const learned = replay.intervalMs;
    // A request sent at 350, refused long after, once the pause is over: a stray of an old second
    // that changes nothing, the count of that second included.
    replay.refused(350, 1600);
    expect(replay.intervalMs).toBe(learned);
  });

  it('forgets the successes in flight when a limit counted over a minute sets the pace', async () => {
    const replay = new Replay();
    await replay.pacer.acquire();
    replay.oks(spaced(10, 0, 100), 50);
    // Refused with 59 s to wait: one cycle of a limit of 10 a minute.
    replay.refused(950, 960, 59_000);
    const cycle = replay.intervalMs;
    expect(cycle).toBeGreaterThan(5000);
    replay.ok(940, 1000);
    expect(replay.intervalMs).toBe(cycle);
  });

  it('takes no evidence from the answers still on their way after a pause', async () => {
    // Found in review: right after a pause, with answers of 500 ms, the span since the pause held
    // two completions of the four requests sent, and a stray 429 answered at once read as a limit
    // of under 3 a second; repeated, that dragged a run with no limit at all to 1 a second.
    const replay = new Replay().oks(spaced(5, 100, 200), 20).refused(1000, 1010);
    const learned = replay.intervalMs;
    // The pause ends at 2010; requests leave every 206 ms and answer in 500 ms.
    replay.oks([2010, 2216], 500).refused(2740, 2750);
    expect(replay.intervalMs).toBe(learned);
  });

  it('still takes evidence right after a pause when the span holds many completions', async () => {
    // Found in the third review: waiting for the answers' time after every pause hid a limit
    // that had tightened, at high rates with long answers (297 429s against 4).
    const replay = new Replay().oks(spaced(30, 0, 33), 300).refused(1290, 1300);
    const learned = replay.intervalMs;
    // The pause ends at 2300; 14 answers of 300 ms are back when the next 429 comes, 855 ms
    // later: fewer than the pace sends, by more than the answers' lag can explain.
    replay.oks(spaced(14, 2300, 37), 300).refused(3145, 3155);
    expect(replay.intervalMs).toBeGreaterThan(learned * 1.5);
  });

  it('ignores, in the second being counted, a refusal of a request sent before it began', async () => {
    // Found in the third review: such a refusal, arriving during the pause, moved the second to
    // before its own start, counted nothing there and paced at 1 a second.
    const replay = new Replay().oks(spaced(5, 1100, 200), 20).refused(2000, 2010);
    const learned = replay.intervalMs;
    replay.refused(500, 2500);
    expect(replay.intervalMs).toBe(learned);
  });

  it('does not slow down further for 429s that arrive during the pause', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 20, 200);
    pacer.onThrottled(1000);
    const learned = pacer.currentIntervalMs;
    // Three more requests were in flight when the limit was reached.
    for (let i = 0; i < 3; i++) {
      await clock.advance(5);
      pacer.onThrottled(1000);
    }
    expect(pacer.currentIntervalMs).toBe(learned);
    expect(pacer.throttled).toBe(4);
  });

  it('pauses every request for Retry-After, then spaces them at the learned pace', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 10, 100);
    const throttledAt = clock.time;
    pacer.onThrottled(1000);
    const starts: number[] = [];
    const waiting = [0, 1, 2, 3].map(async () => {
      await pacer.acquire();
      starts.push(clock.time);
    });
    await clock.runUntil(() => starts.length === 4);
    await Promise.all(waiting);
    expect(starts[0]).toBe(throttledAt + 1000);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    for (const gap of gaps) expect(gap).toBeCloseTo(pacer.currentIntervalMs, 5);
  });

  it('never pauses the other requests longer than maxPauseMs, whatever Retry-After says', async () => {
    const clock = new SimulatedClock();
    const pacer = new Pacer({ now: clock.now, sleep: clock.sleep, maxPauseMs: 300_000 });
    await succeed(clock, pacer, 5, 50);
    const throttledAt = clock.time;
    pacer.onThrottled(3_600_000);
    await acquire(clock, pacer);
    expect(clock.time).toBe(throttledAt + 300_000);
  });

  it('pauses for at most five minutes by default', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    pacer.onThrottled(3_600_000);
    await acquire(clock, pacer);
    expect(clock.time).toBe(300_000);
  });

  it('slows to what the server admitted when that is far below the pace', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 20, 200);
    pacer.onThrottled(1000);
    const learned = pacer.currentIntervalMs;
    await clock.advance(1000);
    // Only 5 admitted in the last second, then a 429: the limit is nearer 5 a second than 20.
    await succeed(clock, pacer, 5, 1000);
    pacer.onThrottled(1000);
    expect(learned).toBeCloseTo((1000 / 19) * 1.03, 5);
    expect(pacer.currentIntervalMs).toBeCloseTo((1000 / 5) * 1.03, 5);
  });

  it('slows down step by step when 429s keep coming at its pace', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 20, 200);
    pacer.onThrottled(1000);
    const learned = pacer.currentIntervalMs;
    const intervals: number[] = [];
    for (let i = 0; i < 6; i++) {
      await clock.advance(1000);
      await succeed(clock, pacer, 5, 5 * pacer.currentIntervalMs);
      pacer.onThrottled(1000);
      intervals.push(pacer.currentIntervalMs);
    }
    // Every third 429 at the same pace slows it by 1.2; the first two could be strays.
    expect(intervals).toEqual([
      learned,
      learned,
      learned * 1.2,
      learned * 1.2,
      learned * 1.2,
      learned * 1.2 * 1.2,
    ]);
  });

  it('probes a faster pace after a run of successes, and goes back to the old one when that fails', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock, 10);
    await succeed(clock, pacer, 20, 200);
    pacer.onThrottled(1000);
    await clock.advance(1000);
    const held = pacer.currentIntervalMs;
    await succeed(clock, pacer, 10, 10 * held);
    expect(pacer.currentIntervalMs).toBeCloseTo(held * 0.98, 5);
    // The probe brought a 429: back to the pace that held.
    await clock.advance(2000);
    await succeed(clock, pacer, 3, 30);
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBeCloseTo(Math.max(held, (1000 / 3) * 1.03), 5);
    await clock.advance(1000);
    // Probes are now rarer: 10 successes are no longer enough.
    const after = pacer.currentIntervalMs;
    await succeed(clock, pacer, 19, 19 * after);
    expect(pacer.currentIntervalMs).toBe(after);
    await succeed(clock, pacer, 1, after);
    expect(pacer.currentIntervalMs).toBeCloseTo(after * 0.98, 5);
  });

  it('forgets a stray 429 that came before enough requests to learn from, within seconds', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 1, 100);
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBeCloseTo(1030, 5);
    expect(pacer.isProvisional).toBe(true);
    const throttledAt = clock.time;
    // Doubled every 5 successes: 1030, 515, 257, 129, 64, 32, 16 ms, then unpaced.
    const intervals: number[] = [];
    while (pacer.currentIntervalMs > 0 && intervals.length < 100) {
      intervals.push(pacer.currentIntervalMs);
      await succeed(clock, pacer, 1, 1);
    }
    expect(pacer.currentIntervalMs).toBe(0);
    expect(intervals).toHaveLength(35);
    expect(clock.time - throttledAt).toBeLessThan(12_000);
    // Unpaced again, a later 429 learns afresh.
    await clock.advance(2000);
    await succeed(clock, pacer, 30, 500);
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBeCloseTo((1000 / 29) * 1.03, 5);
    expect(pacer.isProvisional).toBe(false);
  });

  it('settles a provisional pace when a 429 confirms the limit', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 2, 100);
    pacer.onThrottled(1000);
    const held = pacer.currentIntervalMs;
    await clock.advance(1000);
    await succeed(clock, pacer, 5, 5 * held);
    expect(pacer.currentIntervalMs).toBeCloseTo(held / 2, 5);
    // The doubled pace was too fast: back to the one that held, probed slowly from now on.
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBeCloseTo(held, 5);
    expect(pacer.isProvisional).toBe(false);
    await clock.advance(1000);
    await succeed(clock, pacer, 50, 50 * held);
    expect(pacer.currentIntervalMs).toBeCloseTo(held, 5);
  });

  it('never spaces requests further apart than MAX_INTERVAL_MS, however many 429s come', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 1, 100);
    for (let i = 0; i < 100; i++) {
      await clock.advance(2000);
      pacer.onThrottled(1000);
    }
    expect(pacer.currentIntervalMs).toBe(MAX_INTERVAL_MS);
  });

  it('holds its pace through a lone 429 after a stretch of successes', async () => {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    await succeed(clock, pacer, 20, 200);
    pacer.onThrottled(1000);
    const held = pacer.currentIntervalMs;
    await clock.advance(1000);
    await succeed(clock, pacer, 100, 100 * held);
    pacer.onThrottled(1000);
    expect(pacer.currentIntervalMs).toBe(held);
  });

  /**
   * A client of `requests` requests, `inFlight` at a time, each taking
   * `latencyMs`, against a server whose `answer(at)` admits a request
   * (undefined) or refuses it with a Retry-After in ms; a refused request
   * waits that long and is tried again.
   */
  async function simulate(options: {
    requests: number;
    inFlight: number;
    /** A request's time to answer: fixed, or drawn per request. */
    latencyMs: number | (() => number);
    answer: (at: number) => number | undefined;
    /** Requests made one at a time before the others join in (a run's first steps). */
    alone?: number;
    /** A 429's time to answer, when it differs from a success's (a limiter answers at once). */
    refusedLatencyMs?: () => number;
  }): Promise<{ timeMs: number; throttled: number; pacer: Pacer; pausedMs: number }> {
    const clock = new SimulatedClock();
    const pacer = pacerOn(clock);
    let next = 0;
    let done = 0;
    let throttled = 0;
    /** The Retry-After waits, summed: what the transport charges the run's retry budget. */
    let pausedMs = 0;
    let joined!: () => void;
    const allJoin = new Promise<void>((resolve) => {
      joined = resolve;
    });
    if (!options.alone) joined();
    const worker = async (_: unknown, index: number) => {
      if (index > 0) await allJoin;
      while (next < options.requests) {
        if (next === options.alone) joined();
        next += 1;
        for (let attempt = 0; attempt < 50; attempt++) {
          await pacer.acquire();
          // As the transport does: the pacer is told when each request left.
          const sentAt = clock.time;
          const retryAfterMs = options.answer(clock.time);
          const { latencyMs, refusedLatencyMs } = options;
          await clock.sleep(
            retryAfterMs !== undefined && refusedLatencyMs
              ? refusedLatencyMs()
              : typeof latencyMs === 'number'
                ? latencyMs
                : latencyMs(),
          );
          if (retryAfterMs === undefined) {
            pacer.onSuccess(sentAt);
            done += 1;
            break;
          }
          throttled += 1;
          pausedMs += retryAfterMs;
          pacer.onThrottled(retryAfterMs, sentAt);
          await clock.sleep(retryAfterMs);
        }
      }
    };
    const workers = Array.from({ length: options.inFlight }, worker);
    await clock.runUntil(() => done === options.requests);
    await Promise.all(workers);
    expect(done).toBe(options.requests);
    return { timeMs: clock.time, throttled, pacer, pausedMs };
  }

  /** A deterministic stream of numbers in [0, 1). */
  function seeded(seed: number): () => number {
    let state = seed >>> 0;
    return () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
  }

  it.each([
    { name: '1% of requests refused at random', seed: 7, every: undefined, rate: 0.01 },
    { name: '0.4% of requests refused at random', seed: 11, every: undefined, rate: 0.004 },
    { name: 'every 100th request refused', seed: 1, every: 100, rate: 0 },
  ])(
    'is not slowed by stray 429s from a server with no limit: $name',
    async ({ seed, every, rate }) => {
      const random = seeded(seed);
      let served = 0;
      const requests = 4000;
      const latencyMs = 50;
      const retryAfterMs = 1000;
      const { timeMs, throttled, pacer } = await simulate({
        requests,
        inFlight: 4,
        latencyMs,
        answer: () => {
          served += 1;
          const refused = every !== undefined ? served % every === 0 : random() < rate;
          return refused ? retryAfterMs : undefined;
        },
      });
      // Unpaced, the run takes requests x latency / in flight, plus one pause per 429. The first
      // stray sets a pace from the first second's count (a little under the unpaced rate); later
      // ones must not slow it further, or a long run would crawl.
      const unpacedMs = (requests * latencyMs) / 4 + throttled * retryAfterMs;
      expect(throttled).toBeGreaterThan(10);
      expect(timeMs).toBeLessThan(unpacedMs * 1.4);
      expect(pacer.currentIntervalMs).toBeLessThan((latencyMs / 4) * 2);
    },
  );

  it.each([
    { retryAfter: 'the time until the window frees up', exact: true, ratio: 1.1 },
    { retryAfter: 'a fixed 5 s', exact: false, ratio: 1.5 },
  ])(
    'keeps to a limit counted over a minute, with Retry-After $retryAfter',
    async ({ exact, ratio }) => {
      // 30 requests in any minute: the first 429's per-second evidence says far faster, so the
      // pace comes from the first cycle, burst and pause (an exact Retry-After), or from
      // repeated 429s (a fixed one).
      let admitted: number[] = [];
      const perMinute = 30;
      const requests = 150;
      const { timeMs, throttled, pacer, pausedMs } = await simulate({
        requests,
        inFlight: 4,
        latencyMs: 50,
        answer: (at) => {
          admitted = admitted.filter((t) => t > at - 60_000);
          if (admitted.length >= perMinute) return exact ? admitted[0] + 60_000 - at : 5000;
          admitted.push(at);
          return undefined;
        },
      });
      expect(pacer.currentIntervalMs).toBeLessThanOrEqual(MAX_INTERVAL_MS);
      if (exact) {
        // The first cycle (30 in a burst, then a pause to the end of the minute) sets the pace
        // to 30 a minute: no 429 after it, and the time of its one pause is all the run loses to
        // waiting on a 429 (what the run's retry budget is charged), however long the run.
        // The floor is the issue's: requests / allowed rate.
        expect(throttled).toBeLessThanOrEqual(4);
        expect(pausedMs).toBeLessThan(4 * 60_000);
        expect(timeMs).toBeLessThan((requests / perMinute) * 60_000 * ratio);
      } else {
        // Back-to-back: no faster than bursts of 30 a minute, however the 429s fall.
        const burstsMs = ((requests - perMinute) / perMinute) * 60_000;
        expect(timeMs).toBeLessThan(burstsMs * ratio);
        expect(throttled).toBeLessThan(requests);
      }
    },
  );

  it.each([
    { rps: 20, requests: 600, inFlight: 4, latencyMs: 25 },
    { rps: 5, requests: 200, inFlight: 4, latencyMs: 25 },
    { rps: 50, requests: 1500, inFlight: 4, latencyMs: 10 },
    { rps: 2, requests: 60, inFlight: 2, latencyMs: 100 },
    { rps: 1, requests: 40, inFlight: 4, latencyMs: 50 },
    { rps: 3, requests: 90, inFlight: 4, latencyMs: 25 },
  ])(
    'keeps a client within 10% of a $rps rps sliding-window limit, with few 429s after the first',
    async ({ rps, requests, inFlight, latencyMs }) => {
      // The sandbox's rule: at most `rps` requests admitted in any one-second window.
      const { timeMs, throttled } = await simulate({
        requests,
        inFlight,
        latencyMs,
        answer: perSecondLimit(rps),
      });
      const floorMs = (requests / rps) * 1000;
      expect(timeMs).toBeLessThanOrEqual(floorMs * 1.1);
      // One burst beyond the limit (a 429 per request in flight), then at most a couple of probes.
      expect(throttled).toBeLessThanOrEqual(inFlight * 3);
    },
  );

  it.each([
    // Without telling such cycles from strays: 1.47x (44 429s), 1.20x (25) and 1.68x (116).
    { from: 100, to: 90, ratio: 1.35 },
    { from: 50, to: 45, ratio: 1.15 },
    { from: 100, to: 60, ratio: 1.25 },
  ])(
    'slows below a limit that tightens from $from to $to a second, where each cycle holds one 429',
    async ({ from, to, ratio }) => {
      // Found in review (twentieth round): a pace a little over the new limit drew one 429 a
      // cycle (the pause, under a second of requests, the refusal), each taken for a stray since
      // the last 50 outcomes never held 3: about half the limit for the rest of the run.
      const changeAtMs = 10_000;
      const requests = 3000;
      const { timeMs, throttled } = await simulate({
        requests,
        inFlight: 4,
        latencyMs: 25,
        answer: perSecondLimit((at) => (at < changeAtMs ? from : to), { untilFree: true }),
      });
      const floorMs = changeAtMs + ((requests - (from * changeAtMs) / 1000) / to) * 1000;
      // Three cycles to tell, then a pace from the count of one (1.29x, 1.10x and 1.18x here).
      expect(timeMs).toBeLessThanOrEqual(floorMs * ratio);
      expect(throttled).toBeLessThanOrEqual(30);
    },
  );

  it.each([
    // 1.17x and 1.12x; with a third cycle needed each time, 1.37x and 1.20x; before the cycles
    // were told from strays, 1.37x and 1.42x. (At 200 a second dropping to 120, with these fixed
    // answer times, 1.48x against 1.42x before: left, docs/performance-rounds.md.)
    { from: 100, to: 60, ratio: 1.25 },
    { from: 50, to: 30, ratio: 1.15 },
  ])(
    'slows below a limit counted by the clock seconds that tightens from $from to $to a second',
    async ({ from, to, ratio }) => {
      // Found in review: counted by the clock's seconds, the second after a pause spans two of the
      // server's, and a cycle's count exceeds the limit (87, 81, 74 against 60): each new pace
      // from cycles was still over it, and each took three more cycles to find.
      const counts = new Map<number, number>();
      const changeAtMs = 10_000;
      const requests = 4000;
      const { timeMs } = await simulate({
        requests,
        inFlight: 16,
        latencyMs: 25,
        answer: (at) => {
          const second = Math.floor(at / 1000);
          const admitted = counts.get(second) ?? 0;
          if (admitted >= (at < changeAtMs ? from : to)) {
            return Math.max(1, Math.ceil(((second + 1) * 1000 - at) / 1000)) * 1000;
          }
          counts.set(second, admitted + 1);
          return undefined;
        },
      });
      const floorMs = changeAtMs + ((requests - (from * changeAtMs) / 1000) / to) * 1000;
      expect(timeMs).toBeLessThanOrEqual(floorMs * ratio);
    },
  );

  it('keeps a walk of one request at a time near a 6 rps limit after its first 429', async () => {
    // Here the second before the refusal held exactly what the server admitted, its requests
    // far apart: a pace learned from one success fewer would be 1.2 times slower than this.
    const rps = 6;
    const requests = 600;
    const { timeMs, throttled } = await simulate({
      requests,
      inFlight: 1,
      latencyMs: 50,
      answer: perSecondLimit(rps),
    });
    expect(throttled).toBeLessThanOrEqual(2);
    expect(timeMs).toBeLessThanOrEqual((requests / rps) * 1000 * 1.1);
  });

  it.each([
    { rps: 3, latency: 'answers of 5 to 45 ms', seed: 1 },
    { rps: 3, latency: 'answers of 5 to 45 ms', seed: 3 },
    { rps: 6, latency: 'answers of 5 to 45 ms', seed: 1 },
    { rps: 10, latency: 'answers of 5 to 45 ms', seed: 1 },
    { rps: 3, latency: 'page-sized answers (200 to 600 ms)', seed: 1 },
    { rps: 6, latency: 'page-sized answers (200 to 600 ms)', seed: 2 },
  ])(
    'keeps near a $rps rps limit with 4 requests in flight and $latency (seed $seed)',
    async ({ rps, latency, seed }) => {
      // When the first 429 comes, some requests the server admitted in its second are still on
      // their way back: a pace learned from the successes already back was a fifth to a half
      // under the limit (3 a second learned as 2, 6 as 5), and a provisional pace that doubled
      // and was refused fell back to as low a count. The run then kept that pace to its end.
      const random = seeded(seed);
      const pageSized = latency.startsWith('page');
      const requests = rps * 30;
      const { timeMs, throttled } = await simulate({
        requests,
        inFlight: 4,
        latencyMs: () => (pageSized ? 200 + 400 * random() : 5 + 40 * random()),
        answer: perSecondLimit(rps),
      });
      expect(timeMs).toBeLessThanOrEqual((requests / rps) * 1000 * 1.12);
      // The first burst, a provisional pace's doubling refused, and a probe at most.
      expect(throttled).toBeLessThanOrEqual(4 + 2);
    },
  );

  it.each([
    { rps: 3, latency: 'answers of 25 ms' },
    { rps: 6, latency: 'page-sized answers (200 to 600 ms)' },
    { rps: 10, latency: 'answers of 5 to 45 ms' },
  ])(
    'keeps near a $rps rps limit with 4 requests in flight, $latency and 429s answered at once',
    async ({ rps, latency }) => {
      // A limiter answers a refusal at once, while admitted requests take their time: at the
      // first 429 more of them are still in flight. Counted without them, 1.28x to 1.57x.
      const random = seeded(1);
      const requests = rps * 30;
      const { timeMs, throttled } = await simulate({
        requests,
        inFlight: 4,
        latencyMs: latency.startsWith('page')
          ? () => 200 + 400 * random()
          : latency.includes('5 to 45')
            ? () => 5 + 40 * random()
            : 25,
        refusedLatencyMs: () => 10,
        answer: perSecondLimit(rps),
      });
      expect(timeMs).toBeLessThanOrEqual((requests / rps) * 1000 * 1.1);
      expect(throttled).toBeLessThanOrEqual(4);
    },
  );

  it.each([2, 7, 9])(
    'keeps within 1.5x of a 10 rps limit through stray 429s answered at once, with page-sized answers (seed %i)',
    async (seed) => {
      // 0.5% of requests refused at random besides the limit, answers of 200 to 600 ms, 429s in
      // 10 ms. Found in review: the evidence against a held pace, counted by sending time, saw
      // only the answers already back and took each stray for a limit far lower; such runs took
      // 6x to 9x the floor, 1.5x to 2.1x before the change that brought it in, 1.2x to 1.3x now
      // (these seeds; over 20, the code now was faster than the code before in 19).
      const random = seeded(seed);
      const rps = 10;
      const limit = perSecondLimit(rps);
      const requests = rps * 100;
      const { timeMs } = await simulate({
        requests,
        inFlight: 4,
        latencyMs: () => 200 + 400 * random(),
        refusedLatencyMs: () => 10,
        answer: (at) => (random() < 0.005 ? 1000 : limit(at)),
      });
      expect(timeMs).toBeLessThanOrEqual((requests / rps) * 1000 * 1.5);
    },
  );

  it('keeps a walk of one request at a time near a 3 rps limit with page-sized answers', async () => {
    // Answers of 200 to 600 ms: the walk alone sends about 2.5 a second, so the floor here is the
    // walk's own time more than the limit. The completions of the second before the 429 were 2
    // (answers complete late), the sends in the second before the refused one 3, the server's
    // count: a pace learned from the completions took 1.59 times the limit's floor.
    const random = seeded(3);
    const rps = 3;
    const requests = 90;
    let walkMs = 0;
    const { timeMs, throttled } = await simulate({
      requests,
      inFlight: 1,
      latencyMs: () => {
        const ms = 200 + 400 * random();
        walkMs += ms;
        return ms;
      },
      answer: perSecondLimit(rps),
    });
    expect(throttled).toBeLessThanOrEqual(2);
    expect(timeMs).toBeLessThanOrEqual(Math.max(walkMs, (requests / rps) * 1000) * 1.15);
  });

  it.each([1, 2, 3, 4, 5])(
    'keeps under a 20 rps limit when answers take 5 to 45 ms, with few 429s after the first burst (seed %i)',
    async (seed) => {
      // The successes counted in the client's last second then often number 21 against the
      // server's 20 (a completion whose arrival fell just before the server's second): a pace
      // learned from that count sat above the limit, and cost a 429 and its pause every few
      // seconds, each taken for a stray.
      const random = seeded(seed);
      let next = 0;
      const rps = 20;
      const requests = 1200;
      const { timeMs, throttled } = await simulate({
        requests,
        inFlight: 4,
        // At first one request at a time, a little below the limit: the server's second is full
        // and evenly spread when the others join in and the first 429 comes.
        alone: 60,
        latencyMs: () => (next++ < 60 ? 50 : 5 + 40 * random()),
        answer: perSecondLimit(rps),
      });
      // The first burst (a 429 per request in flight), then at most one failed probe a minute.
      expect(throttled).toBeLessThanOrEqual(4 + 2);
      expect(timeMs).toBeLessThanOrEqual((requests / rps) * 1000 * 1.12);
    },
  );
});
