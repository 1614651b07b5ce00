/** A clock that only moves when told to; sleeps resolve as it passes their time. */
export class SimulatedClock {
  time = 0;
  private sequence = 0;
  private timers: Array<{ at: number; sequence: number; resolve: () => void }> = [];

  readonly now = (): number => this.time;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.time + Math.max(0, ms), sequence: this.sequence++, resolve });
    });

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      await settle();
      const next = this.earliest();
      if (!next || next.at > until) break;
      this.fire(next);
    }
    this.time = until;
    await settle();
  }

  /** Fires timers until `done()` or nothing is left to wait for (bounded). */
  async runUntil(done: () => boolean, maxTimers = 1_000_000): Promise<void> {
    for (let i = 0; i < maxTimers && !done(); i++) {
      await settle();
      const next = this.earliest();
      if (!next) break;
      this.fire(next);
    }
    await settle();
  }

  private earliest() {
    return this.timers.reduce<(typeof this.timers)[number] | undefined>(
      (best, t) =>
        !best || t.at < best.at || (t.at === best.at && t.sequence < best.sequence) ? t : best,
      undefined,
    );
  }

  private fire(timer: (typeof this.timers)[number]): void {
    this.timers = this.timers.filter((t) => t !== timer);
    this.time = Math.max(this.time, timer.at);
    timer.resolve();
  }
}

/** Lets pending promise chains run to their next real wait. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};
