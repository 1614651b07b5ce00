import { Rng } from './prng';
import { ENDPOINT_NAMES } from './types';
import type { EndpointScope, FaultConfig, FaultRule, LatencyRule } from './types';

const FAULT_KINDS = ['tooManyRequests', 'serverError', 'reset', 'truncate', 'html', 'hang'];

/** HTTP dates have whole seconds: round up so a client never retries before the intended time. */
function httpDate(time: number): string {
  return new Date(Math.ceil(time / 1000) * 1000).toUTCString();
}

function scopeMatches(scope: EndpointScope | undefined, endpoint: string): boolean {
  if (scope === undefined || scope === 'all') return true;
  if (scope === 'api') return endpoint !== 'token';
  if (Array.isArray(scope)) return (scope as string[]).includes(endpoint);
  return scope === endpoint;
}

function checkScope(scope: EndpointScope | undefined, where: string): void {
  if (scope === undefined || scope === 'all' || scope === 'api') return;
  const names = Array.isArray(scope) ? scope : [scope];
  for (const name of names) {
    if (!(ENDPOINT_NAMES as readonly string[]).includes(name)) {
      throw new Error(`${where}: unknown endpoint name ${JSON.stringify(name)}`);
    }
  }
}

function checkNonNegative(value: unknown, where: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    throw new Error(`${where} must be a non-negative number`);
  }
}

/** Refuses a config with typos up front, so a fault test cannot pass by injecting nothing. */
export function validateFaultConfig(config: FaultConfig): void {
  const latency = config.latency === undefined ? [] : ([] as LatencyRule[]).concat(config.latency);
  latency.forEach((rule, i) => {
    checkScope(rule.endpoints, `latency[${i}]`);
    checkNonNegative(rule.ms, `latency[${i}].ms`);
    checkNonNegative(rule.jitterMs, `latency[${i}].jitterMs`);
  });
  if (config.rateLimit) {
    checkScope(config.rateLimit.endpoints, 'rateLimit');
    if (!(config.rateLimit.rps > 0)) throw new Error('rateLimit.rps must be positive');
  }
  (config.rules ?? []).forEach((rule, i) => {
    if (!FAULT_KINDS.includes(rule.kind))
      throw new Error(`rules[${i}].kind ${JSON.stringify(rule.kind)} is unknown`);
    checkScope(rule.endpoints, `rules[${i}]`);
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      throw new Error(`rules[${i}].rate must be within [0, 1]`);
    }
    checkNonNegative(rule.every, `rules[${i}].every`);
    checkNonNegative(rule.times, `rules[${i}].times`);
  });
  checkNonNegative(config.revokeTokenAfterRequests, 'revokeTokenAfterRequests');
  if (config.maxConcurrent && !(config.maxConcurrent.limit >= 1)) {
    throw new Error('maxConcurrent.limit must be at least 1');
  }
}

export class FaultEngine {
  private readonly rng: Rng;
  private readonly latency: LatencyRule[];
  private readonly matched: number[];
  private readonly fired: number[];
  /** Sandbox-clock times of requests the rate limit admitted in the last second. */
  private admitted: number[] = [];

  constructor(
    readonly config: FaultConfig,
    private readonly now: () => number,
  ) {
    validateFaultConfig(config);
    this.rng = new Rng(config.seed ?? 1, 0, 0xfa);
    this.latency = config.latency === undefined ? [] : ([] as LatencyRule[]).concat(config.latency);
    this.matched = (config.rules ?? []).map(() => 0);
    this.fired = (config.rules ?? []).map(() => 0);
  }

  /** Sum of every latency rule that covers the endpoint. */
  delayFor(endpoint: string): number {
    let total = 0;
    for (const rule of this.latency) {
      if (!scopeMatches(rule.endpoints, endpoint)) continue;
      total += rule.ms + (rule.jitterMs ? this.rng.float() * rule.jitterMs : 0);
    }
    return total;
  }

  /** Retry-After value when the request exceeds the per-second limit, else undefined. */
  rateLimited(endpoint: string): string | undefined {
    const limit = this.config.rateLimit;
    if (!limit || !scopeMatches(limit.endpoints, endpoint)) return undefined;
    const now = this.now();
    this.admitted = this.admitted.filter((t) => t > now - 1000);
    if (this.admitted.length < limit.rps) {
      this.admitted.push(now);
      return undefined;
    }
    const waitMs = this.admitted[0] + 1000 - now;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return limit.retryAfterFormat === 'http-date'
      ? httpDate(now + seconds * 1000)
      : String(seconds);
  }

  /**
   * The rule that fires for this request, if any. Every matching rule counts the request, so
   * `nth` stays "the nth request this rule covers" whatever the other rules do.
   */
  pick(endpoint: string): FaultRule | undefined {
    const rules = this.config.rules ?? [];
    let chosen: FaultRule | undefined;
    rules.forEach((rule, i) => {
      if (!scopeMatches(rule.endpoints, endpoint)) return;
      const count = ++this.matched[i];
      const roll = rule.rate !== undefined ? this.rng.float() : 1;
      if (chosen || (rule.times !== undefined && this.fired[i] >= rule.times)) return;
      const nth = rule.nth === undefined ? [] : ([] as number[]).concat(rule.nth);
      const unconditional =
        rule.nth === undefined && rule.every === undefined && rule.rate === undefined;
      const fires =
        unconditional ||
        nth.includes(count) ||
        (rule.every !== undefined && rule.every > 0 && count % rule.every === 0) ||
        (rule.rate !== undefined && roll < rule.rate);
      if (fires) {
        this.fired[i]++;
        chosen = rule;
      }
    });
    return chosen;
  }

  retryAfterValue(rule: Extract<FaultRule, { kind: 'tooManyRequests' }>): string | undefined {
    const seconds = rule.retryAfterSeconds ?? 1;
    switch (rule.retryAfterFormat ?? 'seconds') {
      case 'none':
        return undefined;
      case 'http-date':
        return httpDate(this.now() + seconds * 1000);
      default:
        return String(seconds);
    }
  }
}
