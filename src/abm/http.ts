import http from 'http';
import https from 'https';
import nodeFetch, { RequestInit, Response } from 'node-fetch';
import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
  IntegrationProviderAuthorizationError,
  IntegrationProviderRetriesExceededError,
} from '@jupiterone/integration-sdk-core';

import { Body, BodyBuffers, parseJsonBytes, readBody, tailOf, textOf } from './body';
import { Pacer } from './pacer';
import { AppleErrorBody } from './types';
import { holdsSecret, redactDocument, redactSecrets } from './redact';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * How much of the end of a successful answer `onBody` is shown: at least the last 4,096
 * characters, however many bytes each takes.
 */
export const BODY_TAIL_BYTES = 4 * 4096;

type Executor<T> = (
  resolve: (value: T | PromiseLike<T>) => void,
  reject: (reason?: unknown) => void,
) => void;

/**
 * A promise whose resolve and reject do nothing after the first call, as a promise's do anyway,
 * but without Node's `multipleResolves` report of each later call. node-fetch 2 settles some of
 * its promises again when a connection closes after its answer began (a cut body, an attempt
 * aborted at its timeout), and the SDK's runtime logs every such report at ERROR, with a stack,
 * in runs that recovered. node-fetch takes its Promise class from `fetch.Promise`, a documented
 * setting.
 */
class SettledOnce<T> extends Promise<T> {
  constructor(executor: Executor<T>) {
    let settled = false;
    super((resolve, reject) =>
      executor(
        (value) => {
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (reason) => {
          if (settled) return;
          settled = true;
          reject(reason);
        },
      ),
    );
  }
}
(nodeFetch as unknown as { Promise: PromiseConstructor }).Promise =
  SettledOnce as unknown as PromiseConstructor;

/** The part of the SDK's logger the transport uses. */
export interface TransportLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface HttpOptions {
  fetch?: FetchLike;
  /** Most requests in flight at once; Apple has reset connections above about 4. */
  maxInFlight?: number;
  /** One attempt, from sending to the last byte of the body. */
  requestTimeoutMs?: number;
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  /** Largest answer read, decoded; a page of 1,000 devices is about 0.7 MB. */
  maxBodyBytes?: number;
  /** Most time one request may spend waiting between its attempts. */
  maxRequestRetryWaitMs?: number;
  /** Most time the whole run may lose to failed attempts and waiting to retry, over all requests. */
  retryBudgetMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: TransportLogger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  userAgent?: string;
}

export interface HttpRequest {
  /** A label for logs and errors, such as `GET /v1/orgDevices`. */
  endpoint: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /**
   * The body, or a function that makes it for each attempt: a token request
   * must carry a new client assertion every time, since Apple refuses a
   * `jti` it has seen, even when only the answer to the first attempt was lost.
   */
  body?: string | (() => string | Promise<string>);
  /**
   * Shown the end of a successful answer's text (its last `BODY_TAIL_BYTES` bytes, decoded) before
   * the body is parsed; answers true when it started another request, which then leaves before
   * the parse (a walk's next page, `paginate` in client.ts).
   */
  onBody?: (tail: string) => boolean;
  /** Where this request's own lines go (its step's logger); the transport's logger otherwise. */
  logger?: TransportLogger;
  /**
   * Whose rate limit the request counts against (default `api`). Each has its own pace (`Pacer`):
   * Apple's token endpoint is on another host than the API, so a token request's success is not
   * one the API's limit admitted, and a 429 from it must not pause the API's requests or set
   * their pace (docs/performance-rounds.md, twenty-first round). The in-flight cap is shared, but
   * a request waits out its limit's pause before it takes a slot.
   */
  limit?: RateLimitName;
  /**
   * Most time this request may take, its attempts and the waits between them included: an
   * attempt's timeout is cut to what is left, and no retry starts that could not finish in it.
   * For the configuration check, whose answer someone may be waiting for in the integrations UI.
   */
  patienceMs?: number;
}

/** The rate limits the transport keeps a pace for: the API's, and the token endpoint's. */
export type RateLimitName = 'api' | 'token';

export interface HttpResponse {
  status: number;
  /** The parsed JSON body, or undefined when the body was empty or not JSON. */
  json: unknown;
  /**
   * The raw body text (its first megabyte), for error messages (secrets redacted before use). Not
   * made for a 200 whose JSON was read: a page of the device list as one string costs more than
   * its parse (body.ts).
   */
  text?: string;
  headers: { get(name: string): string | null };
}

export interface TransportStats {
  requests: number;
  retries: number;
  throttled: number;
  retryWaitMs: number;
}

const DEFAULTS = {
  maxInFlight: 4,
  requestTimeoutMs: 60_000,
  maxBodyBytes: 64 * 2 ** 20,
  maxAttempts: 8,
  maxRequestRetryWaitMs: 5 * 60_000,
  retryBudgetMs: 30 * 60_000,
  baseBackoffMs: 1_000,
  maxBackoffMs: 30_000,
};

/**
 * The time a run has lost to failed attempts and waits before retries, as the union of their
 * spans: requests that fail or wait side by side lose the run that time once, not once each
 * (found by a review: four requests in flight waiting out one 60 s Retry-After spent 240 s of
 * the budget). Spans are kept merged, and dropped once no new one can reach back to them.
 */
export class LostTime {
  private spans: Array<[number, number]> = [];

  /** How much of [start, end) is not counted yet. */
  uncounted(start: number, end: number): number {
    let left = Math.max(0, end - start);
    for (const [from, to] of this.spans) {
      const overlap = Math.min(to, end) - Math.max(from, start);
      if (overlap > 0) left -= overlap;
    }
    return left;
  }

  /** Counts [start, end); forgets spans that ended before `horizon`. Answers what was new. */
  count(start: number, end: number, horizon: number): number {
    const added = this.uncounted(start, end);
    if (end <= start) return 0;
    let from = start;
    let to = end;
    const kept: Array<[number, number]> = [];
    for (const span of this.spans) {
      if (span[1] < from || span[0] > to) {
        if (span[1] >= horizon) kept.push(span);
      } else {
        from = Math.min(from, span[0]);
        to = Math.max(to, span[1]);
      }
    }
    kept.push([from, to]);
    this.spans = kept.sort((a, b) => a[0] - b[0]);
    return added;
  }
}

interface AttemptTiming {
  sentAt?: number;
  /** When the request's patience runs out (`HttpRequest.patienceMs`), on the transport's clock. */
  deadline?: number;
}

/** A failed attempt that may succeed if tried again. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly status: number | 'network',
    readonly retryAfterMs?: number,
    /** Whether a web page came back where Apple's JSON belonged (see `isWebPage`). */
    readonly webPage = false,
  ) {
    super(message);
  }
}

/**
 * How far the answer's `Date` must be from our clock before an HTTP date is counted from it: its
 * resolution is a second, and a date the server rounded up, read against a `Date` rounded down,
 * asked for up to a second more than it meant (found in review: every 1 s wait the sandbox asked
 * for as a date was read as 2 s).
 */
const CLOCK_SKEW_MS = 2_000;

/**
 * Parses `Retry-After`: delay-seconds, or an HTTP date. A date is counted from the answer's own
 * `Date` when that is valid and more than CLOCK_SKEW_MS from `now` (the server's clock, which
 * does not agree with ours: RFC 9110, 10.2.3), and from `now` otherwise. A wait of zero or less
 * (`0`, a date already past) gives undefined, as no header does: the caller then backs off rather
 * than retrying at once into the same limit (with a server's clock 20 s behind ours, its dates
 * were all past: 126 requests against 6 a second drew 7 429s instead of 1 and took 37% longer).
 */
export function parseRetryAfter(
  value: string | null,
  now: number,
  date?: string | null,
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    ms = Math.round(Number(trimmed) * 1000);
  } else {
    const serverNow = date ? Date.parse(date) : NaN;
    // NaN (no Date, or one that does not parse) is never that far: our clock.
    ms = Date.parse(trimmed) - (Math.abs(serverNow - now) > CLOCK_SKEW_MS ? serverNow : now);
  }
  return ms > 0 ? ms : undefined;
}

function retryAfterOf(headers: HttpResponse['headers'], now: number): number | undefined {
  return parseRetryAfter(headers.get('retry-after'), now, headers.get('date'));
}

/** How much of a body that is not Apple's JSON `describeErrorBody` reads. */
const DESCRIBED_CHARS = 16 * 1024;

/** How `describeErrorBody` starts for a web page where Apple's JSON was expected. */
const HTML_PAGE = "an HTML page, not Apple's JSON";

/** Apple's error code and detail from an error body, or a short excerpt of whatever came back. */
export function describeErrorBody(response: Pick<HttpResponse, 'json' | 'text'>): string {
  const body = response.json as AppleErrorBody | undefined;
  const first = body && Array.isArray(body.errors) ? body.errors[0] : undefined;
  if (first && typeof first === 'object') {
    const parts = [first.code, first.detail ?? first.title].filter(
      (p): p is string => typeof p === 'string' && p.length > 0,
    );
    if (parts.length > 0) return redactSecrets(parts.join(': '));
  }
  if (body && typeof body.error === 'string') {
    const description =
      typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
    return redactSecrets(`${body.error}${description}`);
  }
  // Its start only: far more than a message shows, and patterns that scan a body of a megabyte
  // from every `<` or every secret-like word take seconds (found by a review).
  const raw = (response.text ?? '').slice(0, DESCRIBED_CHARS);
  const text = plainText(raw);
  if (isWebPage(response)) {
    // A proxy's or a web server's error page: its title says it all ("502 Bad Gateway"), and
    // the heading below it usually repeats the title.
    const title = plainText(/<title[^>]*>([\s\S]*?)<\/title>/i.exec(raw)?.[1] ?? '');
    // Redacted before it is cut: a secret across the cut would no longer match, and its first
    // part would be shown (found by a review).
    const gist = title
      ? `"${shorten(redactSecrets(title), 100)}"`
      : text
        ? shorten(redactSecrets(text), 200)
        : '(no text)';
    return `${HTML_PAGE}: ${gist}`;
  }
  if (!text) return 'empty response body';
  return shorten(redactSecrets(text), 200);
}

/** Whether an answer is markup (a sign-in page, a proxy's error page) rather than JSON. */
function isWebPage(response: Pick<HttpResponse, 'json' | 'text'>): boolean {
  return response.json === undefined && /^\s*</.test(response.text ?? '');
}

function plainText(markup: string): string {
  return markup
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Maps a final, non-successful API response to the SDK's error classes, with
 * the endpoint, the status and Apple's error code and detail.
 */
export function toProviderError(
  request: Pick<HttpRequest, 'endpoint'>,
  response: Pick<HttpResponse, 'status' | 'json' | 'text'>,
  hint?: string,
): IntegrationProviderAPIError {
  const statusText = describeErrorBody(response) + (hint ? `. ${hint}` : '');
  const options = { endpoint: request.endpoint, status: response.status, statusText };
  if (response.status === 401) return new IntegrationProviderAuthenticationError(options);
  if (response.status === 403) return new IntegrationProviderAuthorizationError(options);
  return new IntegrationProviderAPIError(options);
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Sends one logical request: paced, at most `maxInFlight` at once, each
 * attempt under a timeout, retried with exponential backoff and jitter on
 * 5xx, 408, network errors and unreadable bodies, and after `Retry-After` on
 * 429, all within a per-request and a per-run retry budget. Statuses that
 * retrying cannot fix are returned to the caller, which knows what they mean.
 */
export class HttpTransport {
  readonly stats: TransportStats = { requests: 0, retries: 0, throttled: 0, retryWaitMs: 0 };
  private readonly options: Required<Omit<HttpOptions, 'logger' | 'userAgent'>> &
    Pick<HttpOptions, 'logger' | 'userAgent'>;
  private readonly pacers: Record<RateLimitName, Pacer>;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private retryBudgetLeftMs: number;
  private readonly lost = new LostTime();
  private readonly bodyBuffers = new BodyBuffers();

  constructor(options: HttpOptions = {}) {
    const maxInFlight = options.maxInFlight ?? DEFAULTS.maxInFlight;
    this.options = {
      fetch: options.fetch ?? (nodeFetch as unknown as FetchLike),
      maxInFlight,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
      maxRequestRetryWaitMs: options.maxRequestRetryWaitMs ?? DEFAULTS.maxRequestRetryWaitMs,
      retryBudgetMs: options.retryBudgetMs ?? DEFAULTS.retryBudgetMs,
      baseBackoffMs: options.baseBackoffMs ?? DEFAULTS.baseBackoffMs,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULTS.maxBackoffMs,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
      logger: options.logger,
      userAgent: options.userAgent,
    };
    this.retryBudgetLeftMs = this.options.retryBudgetMs;
    const pacer = () =>
      new Pacer({
        now: this.options.now,
        sleep: this.options.sleep,
        maxPauseMs: this.options.maxRequestRetryWaitMs,
      });
    this.pacers = { api: pacer(), token: pacer() };
    this.httpAgent = failFastOnCutBodies(
      new http.Agent({ keepAlive: true, maxSockets: maxInFlight }),
    );
    this.httpsAgent = failFastOnCutBodies(
      new https.Agent({ keepAlive: true, maxSockets: maxInFlight }),
    );
  }

  /** The run's retry budget and what is left of it (see `HttpOptions.retryBudgetMs`). */
  get retryBudget(): { totalMs: number; leftMs: number } {
    return { totalMs: this.options.retryBudgetMs, leftMs: Math.max(0, this.retryBudgetLeftMs) };
  }

  /** How long `Retry-After` pauses held the API's requests, in all (a refused request's own wait aside). */
  get pausedMs(): number {
    return this.pacers.api.pausedMs;
  }

  /** The learned spacing between the API's requests, 0 while no 429 has been seen. */
  get paceIntervalMs(): number {
    return this.pacers.api.currentIntervalMs;
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    let waitedMs = 0;
    const deadline =
      request.patienceMs === undefined ? undefined : this.options.now() + request.patienceMs;
    /** How many of this request's answers were 429s. */
    let throttled = 0;
    for (let attempt = 1; ; attempt++) {
      let failure: TransientFailure;
      // When the attempt was sent: the time it waited for a slot and for the pacer is not lost to
      // the failure, so it is not charged to the budget.
      const timing: AttemptTiming = { deadline };
      try {
        const response = await this.attempt(request, timing);
        this.pacerOf(request).onSuccess(timing.sentAt);
        return response;
      } catch (err) {
        if (!(err instanceof TransientFailure)) throw err;
        failure = err;
      }
      // Time lost to a failed attempt counts against the run's budget as much as a wait does:
      // a service that hangs every request must not keep a polling run going for hours.
      if (timing.sentAt !== undefined) {
        this.retryBudgetLeftMs -= this.countLost(timing.sentAt, this.options.now());
      }

      if (failure.status === 429) throttled += 1;
      const delay = this.retryDelay(attempt, failure);
      const what =
        failure.status === 'network' ? failure.message : `${failure.status} ${failure.message}`;
      const reason = `${what} (attempt ${attempt} of ${this.options.maxAttempts})`;
      if (attempt >= this.options.maxAttempts) {
        throw this.giveUp(request, failure, `gave up after ${attempt} attempts`, throttled);
      }
      // A retry needs its wait and at least a second to be answered in.
      if (deadline !== undefined && this.options.now() + delay + 1000 > deadline) {
        const patience = Math.round((request.patienceMs ?? 0) / 1000);
        const left = Math.max(0, Math.floor((deadline - this.options.now()) / 1000));
        // Apple's own Retry-After is the reason, when the wait was its: not the attempts.
        const why =
          failure.retryAfterMs !== undefined
            ? `gave up: Apple asked to wait ${Math.ceil(failure.retryAfterMs / 1000)} s, more than the ${left} s left of the ${patience} s the configuration check waits`
            : `gave up after ${attempt === 1 ? 'one attempt' : `${attempt} attempts`}: the configuration check waits at most ${patience} s`;
        throw this.giveUp(request, failure, why, throttled);
      }
      if (waitedMs + delay > this.options.maxRequestRetryWaitMs) {
        throw this.giveUp(
          request,
          failure,
          `gave up: retrying would wait longer than the per-request limit of ${Math.round(this.options.maxRequestRetryWaitMs / 1000)} s`,
          throttled,
        );
      }
      const now = this.options.now();
      if (this.lost.uncounted(now, now + delay) > Math.max(0, this.retryBudgetLeftMs)) {
        throw this.giveUp(
          request,
          failure,
          `gave up: the run's retry budget (retryBudgetSeconds = ${Math.round(this.options.retryBudgetMs / 1000)} s) is spent`,
          throttled,
        );
      }
      this.retryBudgetLeftMs -= this.countLost(now, now + delay);
      waitedMs += delay;
      this.stats.retries += 1;
      this.stats.retryWaitMs += delay;
      (request.logger ?? this.options.logger)?.[failure.status === 429 ? 'debug' : 'warn'](
        { endpoint: request.endpoint, status: failure.status, attempt, delayMs: delay },
        `Retrying ${request.endpoint} in ${delay} ms: ${reason}`,
      );
      await this.options.sleep(delay);
    }
  }

  private retryDelay(attempt: number, failure: TransientFailure): number {
    if (failure.retryAfterMs !== undefined) return failure.retryAfterMs;
    const exponential = Math.min(
      this.options.maxBackoffMs,
      this.options.baseBackoffMs * 2 ** (attempt - 1),
    );
    // Equal jitter (half the wait fixed, half random) keeps retries from several requests from
    // arriving together without ever retrying at once.
    return Math.round(exponential / 2 + (this.options.random() * exponential) / 2);
  }

  /**
   * The SDK's error for retries that ran out: a failure of Apple's (or of the network) that
   * outlasted them, which the runtime logs as a warning and does not report to JupiterOne's
   * operators as a defect of the integration, as it does a plain provider API error.
   */
  private giveUp(
    request: HttpRequest,
    failure: TransientFailure,
    why: string,
    throttled: number,
  ): IntegrationProviderRetriesExceededError {
    return new IntegrationProviderRetriesExceededError({
      endpoint: request.endpoint,
      status: failure.status === 'network' ? 'NETWORK_ERROR' : failure.status,
      statusText: `${failure.message}; ${why}. ${whoToBlame(request, failure, throttled)}`,
    });
  }

  /** Counts a span of lost time once, however many requests lost it side by side. */
  private countLost(start: number, end: number): number {
    // No failed attempt reaches back further than its timeout: older spans cannot overlap one.
    return this.lost.count(start, end, this.options.now() - 2 * this.options.requestTimeoutMs);
  }

  private pacerOf(request: HttpRequest): Pacer {
    return this.pacers[request.limit ?? 'api'];
  }

  private async slot(): Promise<() => void> {
    while (this.inFlight >= this.options.maxInFlight) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.waiting.shift()?.();
    };
  }

  private async attempt(request: HttpRequest, timing: AttemptTiming): Promise<HttpResponse> {
    const pacer = this.pacerOf(request);
    let release: () => void;
    for (;;) {
      // A pause is waited out without a slot, so requests held by one limit's pause leave the
      // slots to the other's (a token renewal while the API's requests wait out a 429).
      await pacer.pauseOver();
      release = await this.slot();
      if (!pacer.paused) break;
      // A pause began while this one waited for its slot (found in review): given back.
      release();
    }
    try {
      await pacer.acquire();
      // Made after the wait for the pace, so a client assertion is fresh when it leaves. Outside
      // the network error handling, and before the attempt's timer: a body that cannot be made (a
      // client assertion that cannot be signed) is not something a retry fixes, and it must not
      // leave a timer behind to hold the process open.
      const body = typeof request.body === 'function' ? await request.body() : request.body;
      timing.sentAt = this.options.now();
      this.stats.requests += 1;
      const controller = new AbortController();
      const timeoutMs =
        timing.deadline === undefined
          ? this.options.requestTimeoutMs
          : Math.max(
              1000,
              Math.min(this.options.requestTimeoutMs, timing.deadline - timing.sentAt),
            );
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      const began = this.options.now();
      let status: number;
      let answered: Body;
      let headers: HttpResponse['headers'];
      try {
        const response = await this.options.fetch(request.url, {
          method: request.method ?? 'GET',
          headers: {
            accept: 'application/json',
            ...(this.options.userAgent ? { 'user-agent': this.options.userAgent } : {}),
            ...request.headers,
          },
          body,
          // A redirect is answered, not followed: node-fetch would send a token request's body
          // (the client assertion) to wherever it points, https or not.
          redirect: 'manual',
          agent: (url: URL) => (url.protocol === 'http:' ? this.httpAgent : this.httpsAgent),
          signal: controller.signal as RequestInit['signal'],
        });
        status = response.status;
        headers = response.headers;
        answered = await readBody(response, this.bodyBuffers, this.options.maxBodyBytes);
      } catch (err) {
        const aborted = controller.signal.aborted;
        // Frees the connection: node-fetch leaves the socket of an answer it could not decode
        // (gzip announced over plain text) in use, and the agent's maxSockets such answers took
        // every later request, the token's too, waited out its timeout (found by a review).
        if (!aborted) controller.abort();
        throw new TransientFailure(
          aborted
            ? `no complete answer within ${timeoutMs} ms`
            : `network error: ${redactSecrets(errorMessage(err))}`,
          'network',
        );
      } finally {
        clearTimeout(timer);
      }
      (request.logger ?? this.options.logger)?.debug(
        { endpoint: request.endpoint, status, durationMs: this.options.now() - began },
        `${request.endpoint} answered ${status}`,
      );

      const ok = status >= 200 && status < 300;
      let json: unknown;
      let text: string | undefined;
      try {
        if (ok && request.onBody?.(tailOf(answered.bytes, BODY_TAIL_BYTES))) {
          // Node writes a request from a nextTick: without this turn of the event loop it would
          // wait until the parse below is done.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (status >= 300 && status < 400) throw redirectError(request, status, headers);
        json = parseJsonBytes(answered.bytes);
        const token = ok ? bearerToken(request) : undefined;
        if (token !== undefined && holdsSecret(answered.bytes, token)) {
          // The answer holds the token this request carried (an echo by a proxy or a server in
          // front of Apple, say in a link): what is kept of it, the graph's raw data included,
          // gets REDACTED instead (found by a review: the token went to the graph, to be uploaded).
          const redacted = redactDocument(json, token);
          json = redacted.document;
          if (redacted.changed > 0) {
            (request.logger ?? this.options.logger)?.warn(
              { endpoint: request.endpoint },
              `${request.endpoint}: the answer held the access token this request carried, as a proxy or a server that echoes its requests would put it; it is kept with [REDACTED] in its place`,
            );
          }
        }
        // Not made for the answer callers only read the JSON of (a 200 whose JSON was read): any
        // other may become an error's message (the token endpoint takes any status but 200 for one).
        text = status === 200 && json !== undefined ? undefined : textOf(answered.bytes);
      } finally {
        // Given back once nothing made from the bytes refers to them: the parse copies all it keeps.
        if (answered.buffer) this.bodyBuffers.give(answered.buffer);
      }
      if (status === 429) {
        this.stats.throttled += 1;
        const retryAfterMs = retryAfterOf(headers, this.options.now());
        // The pause holds every request of the same limit: it may not outlast the run's budget.
        this.pacerOf(request).onThrottled(
          Math.min(retryAfterMs ?? this.options.baseBackoffMs, Math.max(0, this.retryBudgetLeftMs)),
          timing.sentAt,
        );
        throw new TransientFailure(
          `rate limited (${describeErrorBody({ json, text })})`,
          429,
          retryAfterMs,
          isWebPage({ json, text }),
        );
      }

      if (isRetryableStatus(status)) {
        throw new TransientFailure(
          describeErrorBody({ json, text }),
          status,
          retryAfterOf(headers, this.options.now()),
          isWebPage({ json, text }),
        );
      }
      if (ok && status !== 204 && json === undefined) {
        const webPage = isWebPage({ json, text });
        const kind = !text
          ? 'an empty body instead of JSON'
          : webPage
            ? describeErrorBody({ json, text })
            : 'unreadable (truncated?) JSON';
        throw new TransientFailure(kind, status, undefined, webPage);
      }
      return { status, json, text, headers };
    } finally {
      release();
    }
  }
}

/**
 * The end of a give-up message. When a host other than Apple's never answered, or answered with a
 * web page (a sign-in page, a proxy's error page), the URL override that named it (or what it
 * points at) is more likely the cause than Apple. `throttled`: how many of the request's answers
 * were 429s.
 */
function whoToBlame(request: HttpRequest, failure: TransientFailure, throttled: number): string {
  const overrideSuspect = failure.status === 'network' || failure.webPage;
  const url = overrideSuspect ? parseUrl(request.url) : undefined;
  if (url && !/(^|\.)apple\.com$/.test(url.hostname)) {
    return `${url.origin} is not Apple's own host: check that apiBaseUrl (API_BASE_URL) or tokenUrl (TOKEN_URL) is right and that it answers from here; the next run will try again.`;
  }
  // Throttling is not trouble at Apple: the run asked for more than the account is allowed.
  if (failure.status === 429 && throttled > 1) {
    return 'Apple kept asking to slow down: run less often, or when fewer other clients use the API account; the next run will try again.';
  }
  if (failure.status === 429) {
    return 'Apple is throttling this API account: try again later, and run less often if it keeps happening.';
  }
  return 'Apple may be having trouble; the next run will try again.';
}

/** The access token a request carries, if it carries one. */
function bearerToken(request: HttpRequest): string | undefined {
  const authorization = request.headers?.authorization;
  return authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
}

function parseUrl(text: string, base?: string): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

/**
 * Neither Apple's token endpoint nor its API redirects. A redirect comes from a wrong URL override
 * or something in between (a proxy, a captive portal), and following it would hand the client
 * assertion or the access token to another host, so it ends the request, naming where it pointed
 * (origin and path only: a query could carry anything).
 */
function redirectError(
  request: HttpRequest,
  status: number,
  headers: HttpResponse['headers'],
): IntegrationProviderAPIError {
  const location = headers.get('location');
  // An absent or unreadable Location names nothing worth showing.
  const to = location ? parseUrl(location, request.url) : undefined;
  const target = to ? ` to ${to.origin}${to.pathname}` : '';
  return new IntegrationProviderAPIError({
    endpoint: request.endpoint,
    status,
    statusText: `a redirect${redactSecrets(target)}, which is not followed: credentials and tokens are sent only to the configured hosts. Check apiBaseUrl (API_BASE_URL) and tokenUrl (TOKEN_URL), and any proxy between this machine and Apple`,
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

interface AgentInternals {
  addRequest(request: http.ClientRequest, options: unknown): void;
}

/**
 * node-fetch 2 notices a connection closed part-way through a body only for
 * chunked answers; with a Content-Length it waits for the attempt's timeout.
 * Once a response exists Node reports the cut on the response alone, which
 * node-fetch does not listen to; reporting it on the request, whose errors
 * node-fetch forwards to the body, makes the read fail at once, so the retry
 * follows immediately.
 */
function failFastOnCutBodies<T extends http.Agent>(agent: T): T {
  const internals = agent as unknown as AgentInternals;
  const addRequest = internals.addRequest.bind(agent);
  internals.addRequest = (request, options) => {
    request.once('response', (response: http.IncomingMessage) => {
      response.once('close', () => {
        if (!response.complete) {
          request.emit('error', new Error('the connection closed before the whole answer arrived'));
        }
      });
    });
    addRequest(request, options);
  };
  return agent;
}
