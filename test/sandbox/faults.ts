import { Rng } from './prng';
import { ENDPOINT_NAMES } from './types';
import type {
  DataQuirks,
  EndpointScope,
  FaultConfig,
  FaultKind,
  FaultRule,
  LatencyRule,
} from './types';

const COMMON_RULE_KEYS = ['kind', 'endpoints', 'nth', 'every', 'rate', 'times'];
/** Keys each rule kind takes besides the trigger keys. */
const RULE_KEYS: Record<FaultKind, string[]> = {
  tooManyRequests: ['retryAfterSeconds', 'retryAfterFormat'],
  serverError: ['status'],
  reset: ['afterBytes'],
  truncate: ['keepBytes'],
  html: ['status'],
  hang: [],
  status: ['status', 'code', 'title', 'detail'],
};
const CONFIG_KEYS = [
  'seed',
  'latency',
  'rateLimit',
  'rules',
  'revokeTokenAfterRequests',
  'maxConcurrent',
  'tokenThrottle',
  'dropConnectionAfter',
];
const QUIRK_KEYS = [
  'repeatCursorOnPage',
  'emptyPageWithNext',
  'duplicateDevicesAcrossPages',
  'assignmentsToUnknownDevices',
  'devicesListedTwice',
  'omitPagingTotal',
  'cursorOnlyInLinksNext',
  'legacyServerAttributes',
  'extraAttributes',
  'nullAttributes',
  'purchaseSourceUidOnly',
  'cursorsWithReservedCharacters',
];

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

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

function fail(where: string, message: string): never {
  throw new Error(`${where} ${message}`);
}

function checkObject(value: unknown, where: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(where, `must be an object, not ${show(value)}`);
  }
}

function checkKeys(value: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      fail(where, `has an unknown key ${show(key)} (known: ${allowed.join(', ')})`);
    }
  }
}

function checkScope(scope: unknown, where: string): void {
  if (scope === undefined || scope === 'all' || scope === 'api') return;
  const names = Array.isArray(scope) ? scope : [scope];
  if (names.length === 0) fail(`${where}.endpoints`, 'is an empty list, which matches nothing');
  for (const name of names) {
    if (!(ENDPOINT_NAMES as readonly unknown[]).includes(name)) {
      fail(
        `${where}.endpoints`,
        `names an unknown endpoint ${show(name)} (known: 'all', 'api', ${ENDPOINT_NAMES.join(', ')})`,
      );
    }
  }
}

interface Bounds {
  min?: number;
  max?: number;
  integer?: boolean;
  required?: boolean;
}

function checkNumber(value: unknown, where: string, bounds: Bounds): void {
  if (value === undefined) {
    if (bounds.required) fail(where, 'is required');
    return;
  }
  const { min = -Infinity, max = Infinity, integer = false } = bounds;
  const kind = integer ? 'an integer' : 'a number';
  const range =
    max === Infinity ? (min === -Infinity ? '' : ` >= ${min}`) : ` from ${min} to ${max}`;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    fail(where, `must be ${kind}${range}, not ${show(value)}`);
  }
}

function checkEnum(value: unknown, allowed: readonly unknown[], where: string): void {
  if (value !== undefined && !allowed.includes(value)) {
    fail(where, `must be one of ${allowed.map(show).join(', ')}, not ${show(value)}`);
  }
}

function checkString(value: unknown, where: string): void {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    fail(where, `must be a non-empty string, not ${show(value)}`);
  }
}

function checkBoolean(value: unknown, where: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    fail(where, `must be true or false, not ${show(value)}`);
  }
}

function checkRule(rule: unknown, where: string): void {
  checkObject(rule, where);
  const kind = rule.kind as FaultKind;
  if (!Object.prototype.hasOwnProperty.call(RULE_KEYS, kind as string)) {
    fail(
      `${where}.kind`,
      `${show(rule.kind)} is unknown (known: ${Object.keys(RULE_KEYS).join(', ')})`,
    );
  }
  checkKeys(rule, [...COMMON_RULE_KEYS, ...RULE_KEYS[kind]], where);
  checkScope(rule.endpoints, where);
  if (Array.isArray(rule.nth)) {
    if (rule.nth.length === 0) fail(`${where}.nth`, 'is an empty list, which never fires');
    rule.nth.forEach((n, i) => checkNumber(n, `${where}.nth[${i}]`, { min: 1, integer: true }));
  } else {
    checkNumber(rule.nth, `${where}.nth`, { min: 1, integer: true });
  }
  checkNumber(rule.every, `${where}.every`, { min: 1, integer: true });
  checkNumber(rule.rate, `${where}.rate`, { min: 0, max: 1 });
  checkNumber(rule.times, `${where}.times`, { min: 1, integer: true });
  switch (kind) {
    case 'tooManyRequests':
      checkNumber(rule.retryAfterSeconds, `${where}.retryAfterSeconds`, { min: 0, integer: true });
      checkEnum(
        rule.retryAfterFormat,
        ['seconds', 'http-date', 'none'],
        `${where}.retryAfterFormat`,
      );
      break;
    case 'serverError':
      checkNumber(rule.status, `${where}.status`, { min: 500, max: 599, integer: true });
      break;
    case 'html':
      checkNumber(rule.status, `${where}.status`, { min: 200, max: 599, integer: true });
      break;
    case 'status':
      checkNumber(rule.status, `${where}.status`, {
        min: 400,
        max: 599,
        integer: true,
        required: true,
      });
      checkString(rule.code, `${where}.code`);
      checkString(rule.title, `${where}.title`);
      checkString(rule.detail, `${where}.detail`);
      break;
    case 'reset':
      checkNumber(rule.afterBytes, `${where}.afterBytes`, { min: 0, integer: true });
      break;
    case 'truncate':
      checkNumber(rule.keepBytes, `${where}.keepBytes`, { min: 0, integer: true });
      break;
    default:
      break;
  }
}

/**
 * Refuses a config with typos, unknown keys or values out of range up front, so a fault test
 * cannot pass by injecting nothing. Messages name the offending path, e.g. `rules[2].nth`.
 */
export function validateFaultConfig(config: unknown): asserts config is FaultConfig {
  checkObject(config, 'FaultConfig');
  checkKeys(config, CONFIG_KEYS, 'FaultConfig');
  checkNumber(config.seed, 'seed', { integer: true });
  if (config.latency !== undefined) {
    const many = Array.isArray(config.latency);
    const rules: unknown[] = many ? (config.latency as unknown[]) : [config.latency];
    rules.forEach((rule, i) => {
      const where = many ? `latency[${i}]` : 'latency';
      checkObject(rule, where);
      checkKeys(rule, ['endpoints', 'ms', 'jitterMs'], where);
      checkScope(rule.endpoints, where);
      checkNumber(rule.ms, `${where}.ms`, { min: 0, required: true });
      checkNumber(rule.jitterMs, `${where}.jitterMs`, { min: 0 });
    });
  }
  if (config.rateLimit !== undefined) {
    const limit = config.rateLimit;
    checkObject(limit, 'rateLimit');
    checkKeys(limit, ['rps', 'perMinute', 'endpoints', 'retryAfterFormat'], 'rateLimit');
    checkScope(limit.endpoints, 'rateLimit');
    if ((limit.rps === undefined) === (limit.perMinute === undefined)) {
      fail('rateLimit', 'needs exactly one of rps and perMinute');
    }
    for (const key of ['rps', 'perMinute'] as const) {
      const value = limit[key];
      // A whole number: the window counts whole requests, so 2.5 a second would admit 3.
      if (
        value !== undefined &&
        !(typeof value === 'number' && value > 0 && Number.isInteger(value))
      ) {
        fail(
          `rateLimit.${key}`,
          `must be a positive integer (requests in its window), not ${show(value)}`,
        );
      }
    }
    checkEnum(limit.retryAfterFormat, ['seconds', 'http-date'], 'rateLimit.retryAfterFormat');
  }
  if (config.rules !== undefined) {
    if (!Array.isArray(config.rules)) fail('rules', `must be a list, not ${show(config.rules)}`);
    config.rules.forEach((rule, i) => checkRule(rule, `rules[${i}]`));
  }
  checkNumber(config.revokeTokenAfterRequests, 'revokeTokenAfterRequests', {
    min: 0,
    integer: true,
  });
  checkNumber(config.dropConnectionAfter, 'dropConnectionAfter', { min: 1, integer: true });
  if (config.maxConcurrent !== undefined) {
    const cap = config.maxConcurrent;
    checkObject(cap, 'maxConcurrent');
    checkKeys(cap, ['limit', 'action'], 'maxConcurrent');
    checkNumber(cap.limit, 'maxConcurrent.limit', { min: 1, integer: true, required: true });
    checkEnum(cap.action, ['reset', '503'], 'maxConcurrent.action');
  }
  if (config.tokenThrottle !== undefined) {
    const throttle = config.tokenThrottle;
    checkObject(throttle, 'tokenThrottle');
    checkKeys(throttle, ['minIntervalSeconds', 'status'], 'tokenThrottle');
    checkNumber(throttle.minIntervalSeconds, 'tokenThrottle.minIntervalSeconds', {
      min: Number.MIN_VALUE,
      required: true,
    });
    checkEnum(throttle.status, [429, 400], 'tokenThrottle.status');
  }
}

/** The same care for data quirks: an unknown key or a value of the wrong type throws. */
export function validateDataQuirks(quirks: unknown): asserts quirks is DataQuirks {
  checkObject(quirks, 'DataQuirks');
  checkKeys(quirks, QUIRK_KEYS, 'DataQuirks');
  checkNumber(quirks.repeatCursorOnPage, 'repeatCursorOnPage', { min: 1, integer: true });
  if (quirks.emptyPageWithNext !== undefined) {
    const pages = quirks.emptyPageWithNext;
    if (!Array.isArray(pages) || pages.length === 0) {
      fail('emptyPageWithNext', `must be a non-empty list of page numbers, not ${show(pages)}`);
    }
    pages.forEach((n, i) => checkNumber(n, `emptyPageWithNext[${i}]`, { min: 1, integer: true }));
  }
  checkNumber(quirks.duplicateDevicesAcrossPages, 'duplicateDevicesAcrossPages', {
    min: 0,
    integer: true,
  });
  checkNumber(quirks.assignmentsToUnknownDevices, 'assignmentsToUnknownDevices', {
    min: 0,
    integer: true,
  });
  checkNumber(quirks.devicesListedTwice, 'devicesListedTwice', { min: 0, integer: true });
  for (const flag of [
    'omitPagingTotal',
    'cursorOnlyInLinksNext',
    'legacyServerAttributes',
    'extraAttributes',
    'nullAttributes',
    'purchaseSourceUidOnly',
    'cursorsWithReservedCharacters',
  ]) {
    checkBoolean(quirks[flag], flag);
  }
}

export class FaultEngine {
  private readonly rng: Rng;
  private readonly latency: LatencyRule[];
  private readonly matched: number[];
  private readonly fired: number[];
  /** Sandbox-clock times of requests the rate limit admitted in its window (a second or a minute). */
  private admitted: number[] = [];
  /** client_id -> sandbox-clock time its last token was issued (tokenThrottle). */
  private readonly lastToken = new Map<string, number>();

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

  /** Retry-After value when the request exceeds the limit, else undefined. */
  rateLimited(endpoint: string): string | undefined {
    const limit = this.config.rateLimit;
    // Apple's reported limit counts the API's GETs; its token endpoint is on another host.
    if (!limit || !scopeMatches(limit.endpoints ?? 'api', endpoint)) return undefined;
    const now = this.now();
    const [count, windowMs] =
      limit.perMinute !== undefined ? [limit.perMinute, 60_000] : [limit.rps ?? 0, 1000];
    this.admitted = this.admitted.filter((t) => t > now - windowMs);
    if (this.admitted.length < count) {
      this.admitted.push(now);
      return undefined;
    }
    const waitMs = this.admitted[0] + windowMs - now;
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

  /**
   * Seconds the client must still wait before the token endpoint answers it again, or undefined
   * when it may have a token now (tokenThrottle).
   */
  tokenWait(clientId: string): number | undefined {
    const throttle = this.config.tokenThrottle;
    const last = this.lastToken.get(clientId);
    if (!throttle || last === undefined) return undefined;
    const waitMs = last + throttle.minIntervalSeconds * 1000 - this.now();
    return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : undefined;
  }

  tokenIssued(clientId: string): void {
    this.lastToken.set(clientId, this.now());
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
