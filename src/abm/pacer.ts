/**
 * Keeps requests at a pace the server accepts. Apple publishes no rate limit,
 * so the pace is learned: it starts unlimited, and the first 429 sets it from
 * the requests the server accepted in the second before it: the successes
 * of that second (by when they completed, at times less one, or, when they
 * were far apart, by when they were sent, and then each request sent in it
 * that was still in flight, as it succeeds; see `sentSecond`, `Learning` and
 * `admittedOf`). A request refused too says nothing about the limit. A
 * `Retry-After` pauses every request, not just the one that was refused.
 *
 * A 429 that arrives while that pause lasts answers a request sent before
 * the pace was set, so it is not taken as evidence that the new pace is too
 * fast: with several requests in flight, one burst beyond the limit brings
 * several 429s, and slowing down for each would leave the pace far below the
 * limit for the rest of the run.
 *
 * Long runs without a 429 speed the pace up a little at a time (a probe), so a
 * relaxed limit is found again; a 429 after a probe returns to the pace that
 * held before it and makes probes rarer, since the limit is most likely where
 * it was.
 *
 * A pace learned from fewer than MIN_EVIDENCE accepted requests is
 * provisional: a stray 429 early in a run, when one or two requests have
 * completed, looks just like a limit of one or two a second. A provisional pace
 * doubles its speed every few successes until a 429 confirms a limit (then it
 * goes back to the pace that held and is settled) or it is fast enough to drop
 * pacing altogether. A stray 429 costs seconds, not the rest of the run; a
 * real low limit costs one more 429.
 *
 * A limit counted over a longer window (Apple has been reported to allow about 20 requests a
 * minute) looks fast from the last second: its first requests pass in a burst, then the server
 * asks for a long wait. A long `Retry-After` after a stretch of accepted requests is therefore
 * read as one cycle of such a limit, and the pace becomes the stretch plus the pause over the
 * requests accepted in it, so that the next minutes pass without a 429 (each of which would cost
 * the run's retry budget its wait).
 *
 * Later 429s slow the pace only on evidence: when several of the last
 * requests were refused (the pace is above a limit, for example one counted
 * over a minute rather than a second), or when the server accepted far fewer
 * requests in the last second than the pace sends. A lone 429 at a pace that
 * has been holding is taken as a stray and changes nothing but the pause; a
 * limit that really tightened soon sends more, or, where a second holds more
 * requests than those last outcomes, repeats the same cycle (a pause, the same
 * count of successes, a 429), which is read as the limit (`repeatedCycle`).
 * However the evidence falls,
 * the spacing never exceeds MAX_INTERVAL_MS, so a run can slow down but never
 * stall.
 */
export interface PacerOptions {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Successes without a 429 after which the pace is raised slightly. */
  probeAfterSuccesses?: number;
  /**
   * Longest pause a `Retry-After` imposes on every request. A refused request
   * that will not wait that long gives up on its own; the others must not
   * sleep for an hour because the server said so. Default: the transport's
   * default per-request retry limit.
   */
  maxPauseMs?: number;
}

const WINDOW_MS = 1000;
/** How long successes are kept: a second, and the time a request sent in it may take to answer. */
const KEEP_MS = 3000;
/** Most completion times kept: a pace beyond this many requests a second is never needed. */
const MAX_COMPLETIONS = 10_000;
/** Margin under the learned limit, for clock and network jitter. */
const SAFETY = 1.03;
/**
 * Most a request that left late moves the next one's turn earlier. It comes off a second's worth
 * of turns, not off each: a sixth of the 30 ms SAFETY leaves in a second at a learned pace, about
 * half of the 9 ms left after a probe that held (1.03 x 0.98).
 */
const CATCH_UP_MS = 5;
const BACKOFF_FACTOR = 1.2;
const PROBE_FACTOR = 0.98;
const MAX_PROBE_AFTER = 50_000;
/** Spacing below which the count of a second may hold one request of the second before. */
const JITTER_MS = 100;
/** Accepted requests in the window below which a learned pace is provisional. */
const MIN_EVIDENCE = 5;
/** Successes after which a provisional pace is doubled. */
const FAST_PROBE_AFTER = 5;
/** A provisional interval shorter than this is dropped: the 429 it came from was a stray. */
const UNPACED_BELOW_MS = 10;
/** Recent outcomes (successes, and 429s outside a pause) kept to tell a stray 429 from a limit. */
const RECENT_OUTCOMES = 50;
/** 429s among the recent outcomes from which the pace is taken to be above a limit. */
const SUSTAINED_THROTTLES = 3;
/** How much slower than the pace the server's own count must say before a lone 429 slows it. */
const STRONG_EVIDENCE = 1.5;
/**
 * A `Retry-After` at least this long, after a stretch of accepted requests, speaks of a limit
 * counted over a longer window (a minute, say): the stretch and its pause are one cycle of it.
 */
const LONG_PAUSE_MS = 5_000;
/** Lone 429s in a row, each after the same count since a pause, that read as a limit's cycles. */
const CYCLE_REPEATS = 3;
/** Longest spacing between request starts: about 6 requests a minute. */
export const MAX_INTERVAL_MS = 10_000;
const DEFAULT_MAX_PAUSE_MS = 5 * 60_000;

export class Pacer {
  private intervalMs = 0;
  private nextStartAt = 0;
  private pausedUntil = -Infinity;
  /** How long pauses have held requests in all, overlaps counted once. */
  private pausedTotalMs = 0;
  /** Times successes completed, oldest first, within about the last KEEP_MS. */
  private readonly completions: number[] = [];
  private completionsHead = 0;
  /** When each of those successes was sent (NaN when not known), in the same order. */
  private readonly sentTimes: number[] = [];
  private successesSinceChange = 0;
  private probeAfter: number;
  /** The interval before the latest probe, while that probe is unconfirmed. */
  private beforeProbeMs: number | undefined;
  private throttleCount = 0;
  /** Whether the pace came from too few accepted requests to trust (see MIN_EVIDENCE). */
  private provisional = false;
  /** The last RECENT_OUTCOMES outcomes as a ring: true for a 429. */
  private readonly recent: boolean[] = [];
  private recentNext = 0;
  private recentThrottles = 0;
  private readonly maxPauseMs: number;
  /** When the current stretch of sending began: the first request, or the end of the last pause. */
  private cycleStart: number | undefined;
  /** Successes completed since `cycleStart`. */
  private cycleAccepted = 0;
  /**
   * The per-second count behind the pace the last 429 set, while requests sent before the refused
   * one may still be in flight: each that succeeds was admitted in the second that refused it, and
   * is counted in (see `Learning`).
   */
  private learning: Learning | undefined;
  /** When the last pause began: with `pausedUntil`, its length. */
  private pauseStartedAt = -Infinity;
  /** The count of successes that the last lone 429s each came after, and how many in a row. */
  private cycles: { count: number; times: number } | undefined;
  /** Whether the pace was set from a limit's cycles (see `repeatedCycle`) and has not moved since. */
  private paceFromCycles = false;

  constructor(private readonly options: PacerOptions) {
    this.probeAfter = options.probeAfterSuccesses ?? 200;
    this.maxPauseMs = options.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS;
  }

  /** The learned minimum spacing between request starts, in ms (0 = unpaced). */
  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  /** 429s seen, including those that arrived during a pause. */
  get throttled(): number {
    return this.throttleCount;
  }

  /** How long `Retry-After` pauses have held this limit's requests in all, so far. */
  get pausedMs(): number {
    return this.pausedTotalMs;
  }

  /** Whether a pause holds requests now. */
  get paused(): boolean {
    return this.pausedUntil > this.options.now();
  }

  /** Waits until no pause holds requests (a turn is then still to be waited for: `acquire`). */
  async pauseOver(): Promise<void> {
    for (;;) {
      const waitMs = this.pausedUntil - this.options.now();
      if (waitMs <= 0) return;
      await this.options.sleep(waitMs);
    }
  }

  /** Waits for this request's turn, then records its start. */
  async acquire(): Promise<void> {
    this.cycleStart ??= this.options.now();
    let turn: number;
    for (;;) {
      const now = this.options.now();
      turn = Math.max(this.nextStartAt, this.pausedUntil);
      if (turn <= now) break;
      await this.options.sleep(turn - now);
    }
    // The next turn counts from this one's, not from now: a timer fires late and a busy event loop
    // wakes a request later still, and counted from now that lateness was lost at every request
    // (1.4% of the pace in the benchmark's rate-limited scenario, twentieth round). A request
    // that comes long after its turn gains at most CATCH_UP_MS on the next, so the requests of any
    // second stay spaced as the pace says, less at most CATCH_UP_MS of its margin under the limit.
    this.nextStartAt = Math.max(turn, this.options.now() - CATCH_UP_MS) + this.intervalMs;
  }

  /** Records a success; `sentAt`, when the request left, tells one that was in flight at a 429. */
  onSuccess(sentAt?: number): void {
    const now = this.options.now();
    if (this.cycleStart !== undefined && now >= this.cycleStart) this.cycleAccepted += 1;
    this.completions.push(now);
    this.sentTimes.push(sentAt ?? NaN);
    this.forgetBefore(now - KEEP_MS);
    this.remember(false);
    if (this.intervalMs === 0) return;
    const { learning } = this;
    if (learning && sentAt !== undefined && sentAt > startOf(learning) && sentAt <= learning.to) {
      // In flight when the 429 came, sent in the second before the refused request: admitted in
      // the second that refused it, and not yet counted.
      learning.admitted += 1;
      this.intervalMs = paceOf(learning);
      return;
    }
    this.successesSinceChange += 1;
    if (this.successesSinceChange < (this.provisional ? FAST_PROBE_AFTER : this.probeAfter)) {
      return;
    }
    this.successesSinceChange = 0;
    // The pace moves on its own now: a success still in flight from before says nothing of it.
    this.learning = undefined;
    this.paceFromCycles = false;
    this.beforeProbeMs = this.intervalMs;
    if (!this.provisional) {
      this.intervalMs *= PROBE_FACTOR;
      return;
    }
    this.intervalMs /= 2;
    if (this.intervalMs < UNPACED_BELOW_MS) {
      this.intervalMs = 0;
      this.provisional = false;
      this.beforeProbeMs = undefined;
    }
  }

  /** Whether the current pace is still provisional (learned from too few requests). */
  get isProvisional(): boolean {
    return this.provisional;
  }

  /**
   * Records a 429 and how long the server asked us to wait; `sentAt`, when the refused request
   * left.
   */
  onThrottled(retryAfterMs: number, sentAt?: number): void {
    const now = this.options.now();
    this.throttleCount += 1;
    const duringPause = now < this.pausedUntil;
    // Of the requests in flight when the 429 came, only those sent before every refused one can
    // be known to have been admitted in the second that refused it: an earlier refusal within
    // that second moves its end, and the count is taken again. A refused request sent before the
    // second began says nothing about it.
    const { learning } = this;
    if (
      duringPause &&
      learning &&
      sentAt !== undefined &&
      sentAt < learning.to &&
      sentAt > startOf(learning)
    ) {
      learning.to = sentAt;
      learning.admitted = this.sentBetween(startOf(learning), sentAt);
      this.intervalMs = paceOf(learning);
    }
    const pauseMs = Math.min(Math.max(0, retryAfterMs), this.maxPauseMs);
    const previousPauseEnd = this.pausedUntil;
    const previousPauseMs = previousPauseEnd - this.pauseStartedAt;
    const pauseEnd = Math.max(this.pausedUntil, now + pauseMs);
    this.pausedTotalMs += pauseEnd - Math.max(this.pausedUntil, now);
    this.pausedUntil = pauseEnd;
    if (duringPause) return;
    this.pauseStartedAt = now;

    // With a limit counted over a minute, the first requests pass in a burst, then the server
    // asks for a long wait: the stretch and its pause are one cycle of the limit, and the pace
    // that fits it is their length over the requests admitted. Per-second evidence sees none
    // of that (the burst looks fast), so a long pause after enough successes paces by the cycle.
    const cycleMs =
      pauseMs >= LONG_PAUSE_MS && this.cycleAccepted >= MIN_EVIDENCE
        ? ((now - (this.cycleStart ?? now) + pauseMs) / this.cycleAccepted) * SAFETY
        : 0;
    this.cycleStart = this.pausedUntil;
    this.cycleAccepted = 0;
    this.learning = undefined;

    this.remember(true);
    this.forgetBefore(now - KEEP_MS);
    // The successes in the last second: with a per-second limit, what the server admits. A second
    // that was partly pause admits fewer, so once a pace is in force it is evidence against the
    // pace only when most of it was spent sending.
    const since = Math.max(now - WINDOW_MS, previousPauseEnd);
    const accepted = this.acceptedSince(since);
    // As evidence, when the span since the pause holds few completions, the count starts once the
    // answers to what was sent after the pause can be back: before that, completions lag the sends
    // by the answers' time (found in review: right after a pause, answers of 200 to 600 ms left
    // one completion in the span, and a stray 429 read as a limit of 2 a second). With 5 or
    // more, the count is taken as it was before that: waiting would hide a limit that tightened
    // (found in the third review: 297 429s at 71 a second against a new limit of 60, with 48 in
    // flight).
    const evidenceSince =
      accepted < MIN_EVIDENCE
        ? Math.max(since, previousPauseEnd + this.longestAnswerSince(now - WINDOW_MS))
        : since;
    const spanMs = now - evidenceSince;
    const evidence =
      spanMs >= WINDOW_MS / 2
        ? (spanMs / Math.max(1, this.acceptedSince(evidenceSince))) * SAFETY
        : 0;
    // Where the pace is set from the second before this 429 (the first pace, or the fall back from
    // a probe): counted by sending time when its requests were far apart (see `sentSecond`).
    const sent =
      sentAt === undefined ? undefined : this.sentSecond(sentAt, previousPauseEnd, accepted);
    let fromCycles = false;
    if (this.intervalMs === 0) {
      const admitted = sent ? sent.admitted : admittedOf(accepted);
      this.intervalMs = (WINDOW_MS / Math.max(1, admitted)) * SAFETY;
      this.provisional = admitted < MIN_EVIDENCE;
      // Whether it is provisional is judged here, from what was back when the 429 came: a stray in
      // a run's first burst, with the rest of the burst counted in, would look like a limit, and
      // a provisional pace speeds back up (found in review).
      if (sent) this.learning = { ...sent, atLeastMs: 0 };
    } else if (this.beforeProbeMs !== undefined) {
      // The probe went too far: back to the pace that held, and probe less often.
      if (sent) {
        this.learning = { ...sent, atLeastMs: this.beforeProbeMs };
        this.intervalMs = paceOf(this.learning);
      } else {
        this.intervalMs = Math.max(evidence, this.beforeProbeMs);
      }
      this.probeAfter = Math.min(MAX_PROBE_AFTER, this.probeAfter * 2);
      this.provisional = false;
    } else if (this.recentThrottles >= SUSTAINED_THROTTLES) {
      this.intervalMs = Math.max(evidence, this.intervalMs * BACKOFF_FACTOR);
    } else if (evidence > this.intervalMs * STRONG_EVIDENCE) {
      this.intervalMs = evidence;
    } else if (cycleMs <= this.intervalMs * STRONG_EVIDENCE) {
      // A lone 429 at a pace that has been holding: a stray, and the pause is all it costs, unless
      // it repeats a limit's cycle.
      const cycle =
        sentAt === undefined
          ? undefined
          : this.repeatedCycle(sentAt, previousPauseEnd, previousPauseMs);
      if (!cycle) return;
      // Those of its second still in flight are counted in as they succeed, as for a first pace.
      // Another cycle at a pace set from cycles says that pace is still over the limit: a server
      // that counts by the clock's seconds admits more than its limit in the second after a pause,
      // which spans two of its own (found in review: the counts read 87, 81, 74 against a limit
      // of 60), so the pace is then at least BACKOFF_FACTOR slower.
      const atLeastMs = this.paceFromCycles ? this.intervalMs * BACKOFF_FACTOR : 0;
      this.learning = { ...cycle, atLeastMs };
      this.intervalMs = paceOf(this.learning);
      this.provisional = false;
      fromCycles = true;
    }
    if (cycleMs > this.intervalMs * STRONG_EVIDENCE) {
      this.intervalMs = cycleMs;
      this.provisional = false;
      this.learning = undefined;
    }
    this.intervalMs = Math.min(this.intervalMs, MAX_INTERVAL_MS);
    this.beforeProbeMs = undefined;
    this.cycles = undefined;
    this.paceFromCycles = fromCycles;
    this.successesSinceChange = 0;
    // Evidence against the new pace must come at the new pace.
    this.recent.length = 0;
    this.recentNext = 0;
    this.recentThrottles = 0;
  }

  /**
   * The second before a lone 429 at a held pace, when the 429 repeats a limit's cycle; otherwise
   * undefined, and it is a stray.
   *
   * A pace a little over a per-second limit draws one 429 a cycle: a pause, less than a second of
   * requests, and the one beyond the limit. With more than RECENT_OUTCOMES requests in a cycle,
   * the last outcomes never hold SUSTAINED_THROTTLES 429s, so each looked like a stray, and the
   * run went at about half the limit (found in review: a limit of 100 a second tightened to 90
   * under a pace of 98; docs/performance-rounds.md, twentieth round). Random strays come after
   * counts that vary, a limit's cycles after the same one. So the refused request must have left
   * less than a second after a pause of at least a second (the server's window then held only
   * what was sent since), after at least MIN_EVIDENCE successes sent since it, and within a
   * twentieth (at least one) of the same count CYCLE_REPEATS times in a row; or once, when the
   * pace already came from cycles.
   */
  private repeatedCycle(
    sentAt: number,
    pauseEnd: number,
    pauseMs: number,
  ): Pick<Learning, 'to' | 'after' | 'admitted'> | undefined {
    const after = pauseEnd - 1;
    const count =
      pauseMs >= WINDOW_MS && sentAt >= pauseEnd && sentAt - pauseEnd < WINDOW_MS
        ? this.sentBetween(after, sentAt)
        : 0;
    if (count < MIN_EVIDENCE) {
      this.cycles = undefined;
      return undefined;
    }
    const { cycles } = this;
    const repeats =
      cycles !== undefined && Math.abs(cycles.count - count) <= Math.max(1, Math.round(count / 20));
    this.cycles = repeats
      ? { count: Math.min(cycles.count, count), times: cycles.times + 1 }
      : { count, times: 1 };
    // Once the pace came from cycles, the next one says at once that it is still over the limit.
    return this.cycles.times >= CYCLE_REPEATS || this.paceFromCycles
      ? { to: sentAt, after, admitted: this.cycles.count }
      : undefined;
  }

  /**
   * The successes of the second before the refused request was sent, counted by when they were
   * sent, when they were far apart (10 or fewer, in that second and in the last one's
   * completions) and most of that second was spent sending; otherwise undefined, and the count is
   * the completions' of the last second.
   *
   * The server counts arrivals, which follow the sends by about the same time each, where
   * completions follow them by the answers' time, which can vary by hundreds of ms: one request at
   * a time against 3 a second, with answers of 200 to 600 ms, completed 2 in the second before its
   * 429. Close together, sending times move with a busy event loop by as much as their spacing
   * (docs/performance-rounds.md, seventeenth round). The requests of that second still in flight
   * are counted as they succeed (`Learning`).
   */
  private sentSecond(
    sentAt: number,
    pauseEnd: number,
    completed: number,
  ): Pick<Learning, 'to' | 'after' | 'admitted'> | undefined {
    // Nothing leaves during a pause, and the first request after it leaves as it ends: counted.
    const second = { to: sentAt, after: pauseEnd - 1 };
    const from = startOf(second);
    if (sentAt - from < WINDOW_MS / 2) return undefined;
    const admitted = this.sentBetween(from, sentAt);
    const sparse = WINDOW_MS / Math.max(1, completed, admitted) >= JITTER_MS;
    return sparse ? { ...second, admitted } : undefined;
  }

  /** The longest answer time of the successes completed after `time` whose sending time is known. */
  private longestAnswerSince(time: number): number {
    let longest = 0;
    for (let i = this.completions.length - 1; i >= this.completionsHead; i--) {
      if (this.completions[i] <= time) break;
      const answerMs = this.completions[i] - this.sentTimes[i];
      if (answerMs > longest) longest = answerMs;
    }
    return longest;
  }

  /** Kept successes sent in (from, to]. */
  private sentBetween(from: number, to: number): number {
    let count = 0;
    for (let i = this.completions.length - 1; i >= this.completionsHead; i--) {
      // A success completes after it was sent: none earlier in the list was sent after `from`.
      if (this.completions[i] <= from) break;
      const at = this.sentTimes[i];
      if (at > from && at <= to) count += 1;
    }
    return count;
  }

  /** Successes that completed after `time` (within the kept window). */
  private acceptedSince(time: number): number {
    let count = 0;
    for (let i = this.completions.length - 1; i >= this.completionsHead; i--) {
      if (this.completions[i] <= time) break;
      count += 1;
    }
    return count;
  }

  /** Records an outcome in the ring of recent ones. */
  private remember(throttled: boolean): void {
    if (this.recent.length < RECENT_OUTCOMES) {
      this.recent.push(throttled);
    } else {
      if (this.recent[this.recentNext]) this.recentThrottles -= 1;
      this.recent[this.recentNext] = throttled;
      this.recentNext = (this.recentNext + 1) % RECENT_OUTCOMES;
    }
    if (throttled) this.recentThrottles += 1;
  }

  private forgetBefore(time: number): void {
    const { completions } = this;
    while (
      this.completionsHead < completions.length &&
      (completions[this.completionsHead] <= time ||
        completions.length - this.completionsHead > MAX_COMPLETIONS)
    ) {
      this.completionsHead += 1;
    }
    // Compact now and then so the array does not grow with the run.
    if (this.completionsHead > 1024 && this.completionsHead * 2 > completions.length) {
      completions.splice(0, this.completionsHead);
      this.sentTimes.splice(0, this.completionsHead);
      this.completionsHead = 0;
    }
  }
}

/**
 * The second a pace was set from, counted by sending time, while requests sent in it may still be
 * in flight. With several requests in flight and answers that take a while, some that the server
 * admitted in that second are still on their way when its 429 comes; each is counted in as it
 * succeeds. Counted without them, the pace at 6 a second with 4 requests in flight was learned at
 * 5, and a provisional pace doubled and refused fell back to one as low
 * (docs/performance-rounds.md, eighteenth round). Only a count by sending time takes them in: one
 * by completion time covers other sends, and adding these to it counted more than a second's.
 * It ends at the next 429 outside a pause, or when the pace moves on its own (a probe).
 */
interface Learning {
  /** When the refused request was sent: the second counted ends there (see `startOf`). */
  to: number;
  /** Just before the pause before it ended: the second counted never starts earlier. */
  after: number;
  /** Successes sent in that second, as counted so far. */
  admitted: number;
  /** Least spacing the pace may take, however many are counted in (the pace before a probe). */
  atLeastMs: number;
}

/** Where the second counted starts: a second before its end, or at the pause before it. */
function startOf(learning: Pick<Learning, 'to' | 'after'>): number {
  return Math.max(learning.to - WINDOW_MS, learning.after);
}

function paceOf(learning: Learning): number {
  const { atLeastMs } = learning;
  // Falling back from a probe: a second that held one fewer than the pace before it sends is what
  // that pace gives, the refused request's own slot left out, so that pace held. Counted as a
  // limit, it slowed a pace of N a second to N - 1 at every stray 429 after a probe (found in
  // review).
  if (atLeastMs > 0 && learning.admitted >= Math.ceil(WINDOW_MS / atLeastMs) - 1) return atLeastMs;
  const spacing = (WINDOW_MS / Math.max(1, learning.admitted)) * SAFETY;
  return Math.min(MAX_INTERVAL_MS, Math.max(atLeastMs, spacing));
}

/**
 * What the server admitted in its own last second, from the successes that completed in ours:
 * one fewer when they are many and close together. The server counts arrivals and we count
 * completions, which follow them by a latency that varies by some tens of ms (a busy event loop,
 * the network): when requests are less than JITTER_MS apart, the second before the 429 often
 * holds one more than the server's did. Counted, where the answers change their times as the first
 * 429 comes (short id pages joining long device pages), it set a pace above a limit of 20 a second:
 * 1.18x of the floor and 7 429s, against 1.05x to 1.09x and 4 or 5 with one fewer (twenty-first
 * round; the benchmark's 21 of the seventeenth, which this was first written for, held the token
 * request, which has a pace of its own since). Further apart, the count is exact, and one fewer
 * would pace a walk of 6 a second at 5 (docs/performance-rounds.md, seventeenth round).
 */
function admittedOf(accepted: number): number {
  return accepted > MIN_EVIDENCE && WINDOW_MS / accepted < JITTER_MS ? accepted - 1 : accepted;
}
