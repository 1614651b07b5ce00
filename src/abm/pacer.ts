/**
 * Keeps requests at a pace the server accepts. Apple publishes no rate limit,
 * so the pace is learned: it starts unlimited, and the first 429 sets it from
 * the number of requests started in the second before it; later 429s slow it
 * further, and long runs without one speed it up a little at a time so a
 * relaxed limit is found again. A `Retry-After` pauses every request, not just
 * the one that was refused.
 */
export interface PacerOptions {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Successes in a row after which the pace is raised slightly. */
  probeAfterSuccesses?: number;
}

const WINDOW_MS = 1000;
const HISTORY = 256;
const SAFETY = 1.05;
const BACKOFF_FACTOR = 1.2;
const PROBE_FACTOR = 0.98;

export class Pacer {
  private intervalMs = 0;
  private nextStartAt = 0;
  private pausedUntil = 0;
  private readonly starts: number[] = [];
  private successesSinceThrottle = 0;
  private readonly probeAfter: number;

  constructor(private readonly options: PacerOptions) {
    this.probeAfter = options.probeAfterSuccesses ?? 200;
  }

  /** The learned minimum spacing between request starts, in ms (0 = unpaced). */
  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  /** Waits for this request's turn, then records its start. */
  async acquire(): Promise<void> {
    for (;;) {
      const now = this.options.now();
      const at = Math.max(this.nextStartAt, this.pausedUntil);
      if (at <= now) break;
      await this.options.sleep(at - now);
    }
    const now = this.options.now();
    this.nextStartAt = now + this.intervalMs;
    this.starts.push(now);
    if (this.starts.length > HISTORY) this.starts.shift();
  }

  onSuccess(): void {
    if (this.intervalMs === 0) return;
    this.successesSinceThrottle += 1;
    if (this.successesSinceThrottle >= this.probeAfter) {
      this.successesSinceThrottle = 0;
      this.intervalMs *= PROBE_FACTOR;
    }
  }

  /** Records a 429 and how long the server asked us to wait. */
  onThrottled(retryAfterMs: number): void {
    const now = this.options.now();
    this.successesSinceThrottle = 0;
    this.pausedUntil = Math.max(this.pausedUntil, now + retryAfterMs);
    if (this.intervalMs === 0) {
      const recent = this.starts.filter((t) => t > now - WINDOW_MS).length;
      // The refused request was one too many: the server allowed about recent - 1 a second.
      const allowed = Math.max(1, recent - 1);
      this.intervalMs = (WINDOW_MS / allowed) * SAFETY;
    } else {
      this.intervalMs *= BACKOFF_FACTOR;
    }
  }
}
