import type { SandboxStats } from './types';

function bump(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

export class StatsRecorder {
  /** Everything but the CPU time, which is read from the process when a snapshot is taken. */
  private data: Omit<SandboxStats, 'cpuMs'> = StatsRecorder.empty();
  private cpuSince = process.cpuUsage();

  private static empty(): Omit<SandboxStats, 'cpuMs'> {
    return {
      totalRequests: 0,
      byEndpoint: {},
      tokensIssued: 0,
      maxInFlight: 0,
      inFlight: 0,
      faultsInjected: {},
      pagesServed: {},
    };
  }

  arrived(): void {
    this.data.totalRequests++;
    this.data.inFlight++;
    this.data.maxInFlight = Math.max(this.data.maxInFlight, this.data.inFlight);
  }

  /** inFlight is a live gauge, so it survives resets and must not go negative after one. */
  departed(): void {
    this.data.inFlight = Math.max(0, this.data.inFlight - 1);
  }

  get inFlight(): number {
    return this.data.inFlight;
  }

  answered(endpoint: string, status: string): void {
    bump((this.data.byEndpoint[endpoint] ??= {}), status);
  }

  fault(kind: string): void {
    bump(this.data.faultsInjected, kind);
  }

  page(endpoint: string, key: string): void {
    bump((this.data.pagesServed[endpoint] ??= {}), key);
  }

  tokenIssued(): void {
    this.data.tokensIssued++;
  }

  snapshot(): SandboxStats {
    const { user, system } = process.cpuUsage(this.cpuSince);
    return {
      ...(JSON.parse(JSON.stringify(this.data)) as Omit<SandboxStats, 'cpuMs'>),
      cpuMs: Math.round((user + system) / 1000),
    };
  }

  reset(): void {
    const inFlight = this.data.inFlight;
    this.data = StatsRecorder.empty();
    this.cpuSince = process.cpuUsage();
    this.data.inFlight = inFlight;
    this.data.maxInFlight = inFlight;
  }
}
