import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
} from '@jupiterone/integration-sdk-core';

import { AbmConfig, MANAGER } from '../config';
import { TokenProvider } from './auth';
import { readAhead } from './readAhead';
import {
  errorMessage,
  HttpOptions,
  HttpRequest,
  HttpTransport,
  toProviderError,
  TransportLogger,
} from './http';
import {
  ListDocument,
  MdmServer,
  ORG_DEVICE_LIST_FIELDS,
  ORG_DEVICE_LIST_FIELDS_UID,
  OrgDevice,
  ResourceIdentifier,
} from './types';

/** Apple's largest page. */
export const PAGE_LIMIT = 1000;

/** The most time the configuration check (`validateInvocation`) gives the first token request. */
export const VALIDATION_PATIENCE_MS = 45_000;

/**
 * Pages a walk fetches ahead of its caller. One keeps the network busy while
 * the caller works on the current page (a page's request needs the cursor of
 * the one before, so a walk never has more than one request in flight anyway).
 * A second page ahead bought no time and kept each parsed page alive longer:
 * more of it promoted to V8's old generation, where it dies as garbage that
 * only a full collection frees (docs/performance-rounds.md, second round; in the
 * eighth, the device step was slower and peaked about 70 MB higher).
 */
const PAGES_AHEAD = 1;
/** How much of a page's end is searched for its next cursor (`peekNextCursor`). */
const PEEK_TAIL_CHARS = 4096;
/** Empty pages in a row, each with a new cursor, after which a walk is taken to be stuck. */
const MAX_EMPTY_PAGES_IN_A_ROW = 50;
/**
 * Tokens one request may replace after 401s on tokens that had worked (expired
 * or revoked since) before the refusals are taken as final.
 */
const MAX_TOKEN_REPLACEMENTS = 5;

export interface Page<T> {
  /** 1-based position of this page in its walk. */
  number: number;
  items: T[];
  /** Apple's count of all items in the walk, when it gives one. */
  total?: number;
}

export interface AbmClientOptions {
  config: AbmConfig;
  http?: HttpOptions;
  now?: () => number;
}

type Query = Record<string, string>;

/**
 * Typed access to the Apple Business Manager API. It knows nothing of the
 * graph. One client serves a whole run, so all steps share its token and its
 * pace. Every walk either yields every page or throws: it never ends early as
 * if it had seen everything.
 */
export class AbmClient {
  readonly transport: HttpTransport;
  readonly auth: TokenProvider;
  private readonly apiBaseUrl: string;
  /** Where the account is managed, as messages name it. */
  private readonly manager: string;
  private logger?: TransportLogger;
  /**
   * What every view of this client shares with it (`withLogger`): the authentication error that
   * ended the run, if Apple refused the credentials.
   */
  private readonly shared: { refusal?: IntegrationProviderAuthenticationError } = {};

  constructor(options: AbmClientOptions) {
    this.transport = new HttpTransport({
      retryBudgetMs: options.config.retryBudgetMs,
      ...options.http,
      logger: {
        debug: (f, m) => this.logger?.debug(f, m),
        info: (f, m) => this.logger?.info(f, m),
        warn: (f, m) => this.logger?.warn(f, m),
      },
      userAgent: 'graph-apple-business-manager',
    });
    this.auth = new TokenProvider({
      config: options.config,
      http: this.transport,
      now: options.now,
      sleep: options.http?.sleep,
      onEarlyRenewalFailed: (err, expiresInMs) =>
        this.logger?.warn(
          { expiresInMs },
          `Renewing the access token ahead of its expiry failed (${errorMessage(err)}); the current token serves for another ${Math.round(expiresInMs / 1000)} s and the renewal is tried again meanwhile.`,
        ),
    });
    this.apiBaseUrl = options.config.apiBaseUrl;
    this.manager = MANAGER[options.config.kind];
  }

  /** The logger of requests made for no step in particular: the token's, and any view's default. */
  setLogger(logger: TransportLogger): void {
    this.logger = logger;
  }

  /**
   * This client as seen by one step: the same token, pace, in-flight cap and refusal, but the
   * requests made through it (and their retries) log to `logger`, so that the steps running side
   * by side each have their own requests under their own name. The token's requests, shared by
   * all, stay with this client's logger.
   */
  withLogger(logger: TransportLogger): AbmClient {
    const view = Object.create(this) as AbmClient;
    view.logger = logger;
    return view;
  }

  /**
   * Gets the run's first access token, which proves that the Client ID, Key ID, key and scope
   * belong together. Within VALIDATION_PATIENCE_MS, retries included: someone may be waiting for
   * the answer in the integrations UI, where a token URL that hangs would otherwise keep them
   * some 9 minutes (8 attempts of up to 60 s) and one that refuses connections over a minute.
   */
  async verifyAuthentication(): Promise<void> {
    await this.auth.getToken(VALIDATION_PATIENCE_MS);
  }

  async *iterateOrgDevices(): AsyncGenerator<Page<OrgDevice>> {
    const endpoint = 'GET /v1/orgDevices';
    const fieldsets = [ORG_DEVICE_LIST_FIELDS, ORG_DEVICE_LIST_FIELDS_UID];
    for (let i = 0; ; i += 1) {
      let firstPage = true;
      try {
        for await (const page of this.paginate<OrgDevice>('/orgDevices', {
          'fields[orgDevices]': fieldsets[i].join(','),
        })) {
          firstPage = false;
          yield page;
        }
        return;
      } catch (err) {
        // Nothing of the list has been handed on yet, and the first page of a list that takes
        // no cursor can only be refused for its query: its fieldset.
        const refused = err instanceof IntegrationProviderAPIError && err.status === 400;
        if (!firstPage || !refused || i + 1 >= fieldsets.length) throw err;
        this.logger?.info(
          { endpoint, status: 400 },
          `${endpoint}: Apple refused the first page of the device list (${err.message}); asking once more, with the purchase source id spelled as in Apple's example (purchaseSourceUid) in case the fieldset was the cause.`,
        );
      }
    }
  }

  /**
   * One device as the single-device GET gives it: every attribute, including
   * `releasedFromOrgDateTime`, which the list never carries. Undefined when
   * Apple answers 404 (the device is no longer the organization's).
   */
  async getOrgDevice(serial: string): Promise<OrgDevice | undefined> {
    const path = `/orgDevices/${encodeURIComponent(serial)}`;
    const endpoint = `GET /v1${path}`;
    let json: unknown;
    try {
      json = await this.getJson(endpoint, path);
    } catch (err) {
      if (err instanceof IntegrationProviderAPIError && err.status === 404) return undefined;
      throw err;
    }
    const data = (json as { data?: unknown } | undefined)?.data;
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      throw new IntegrationProviderAPIError({
        endpoint,
        status: 200,
        statusText: 'the answer is not a JSON:API resource (no "data" object)',
      });
    }
    return data as OrgDevice;
  }

  /**
   * MDM servers with every attribute the API has: no sparse fieldset, so
   * attributes of newer API versions come along without being asked for.
   */
  iterateMdmServers(): AsyncGenerator<Page<MdmServer>> {
    return this.paginate<MdmServer>('/mdmServers', {});
  }

  /** The serial numbers of the devices assigned to one MDM server. */
  iterateServerDeviceIds(serverId: string): AsyncGenerator<Page<ResourceIdentifier<'orgDevices'>>> {
    return this.paginate<ResourceIdentifier<'orgDevices'>>(
      `/mdmServers/${encodeURIComponent(serverId)}/relationships/devices`,
      {},
    );
  }

  /**
   * Walks a paged list. Pages are fetched one after another as fast as the
   * network answers, up to PAGES_AHEAD ahead of the caller, so the network
   * works while the caller converts. A failed page is retried from its own
   * cursor; a cursor that comes back a second time ends the walk with an
   * error instead of an endless loop.
   */
  async *paginate<T>(path: string, query: Query): AsyncGenerator<Page<T>> {
    const endpoint = `GET /v1${path}`;
    const seenCursors = new Set<string>();
    let emptyInARow = 0;
    let fetched = 0;
    let cursor: string | undefined;
    let last = false;
    // The next page's request can leave before this page is parsed (about 2 ms a page of 1,000
    // devices), from the cursor read off the end of its text: the chain of requests then does
    // not wait for each parse. Only while the caller is idle, waiting for this very page: a busy
    // caller takes the page later anyway, and a page fetched early would only wait in memory.
    // The early request is used only if the parsed page names the same cursor, and at most one
    // is out at a time (docs/performance-rounds.md, twelfth round).
    interface Fetch {
      awaited?: () => boolean;
    }
    let early: { cursor: string; document: Promise<ListDocument<T>>; fetch: Fetch } | undefined;
    const fetchFrom = (from: string | undefined, fetch: Fetch): Promise<ListDocument<T>> =>
      this.fetchPage<T>(
        endpoint,
        path,
        from === undefined ? query : { ...query, cursor: from },
        (text) => sendEarly(text, fetch),
      );
    const sendEarly = (text: string, fetch: Fetch): boolean => {
      if (early !== undefined || !fetch.awaited?.()) return false;
      const next = peekNextCursor(text);
      if (next === undefined || seenCursors.has(next)) return false;
      const ahead: Fetch = {};
      const document = fetchFrom(next, ahead);
      // If it is dropped, its outcome is nobody's; if it is taken, the walk awaits it again.
      document.catch(() => undefined);
      early = { cursor: next, document, fetch: ahead };
      return true;
    };
    const nextPage = async (awaited: () => boolean): Promise<ListDocument<T> | undefined> => {
      if (last) return undefined;
      const sent = early;
      early = undefined;
      let document: ListDocument<T>;
      if (sent !== undefined && sent.cursor === cursor) {
        sent.fetch.awaited = awaited;
        document = await sent.document;
      } else {
        if (sent !== undefined) {
          this.logger?.debug(
            { endpoint },
            `${endpoint}: dropped a request sent early on a cursor the page did not confirm`,
          );
        }
        document = await fetchFrom(cursor, { awaited });
      }
      fetched += 1;
      const next = nextCursorOf(document, endpoint);
      if (next !== undefined && seenCursors.has(next)) {
        throw new IntegrationProviderAPIError({
          endpoint,
          status: 200,
          statusText: `page ${fetched} returned a cursor that an earlier page already returned; stopping so the walk cannot loop forever. This is an Apple-side paging fault: try again later`,
        });
      }
      emptyInARow = document.data.length === 0 ? emptyInARow + 1 : 0;
      if (emptyInARow > MAX_EMPTY_PAGES_IN_A_ROW && next !== undefined) {
        throw new IntegrationProviderAPIError({
          endpoint,
          status: 200,
          statusText: `${emptyInARow} empty pages in a row, each with another cursor; stopping so the walk cannot go on forever`,
        });
      }
      if (next === undefined) last = true;
      else seenCursors.add(next);
      cursor = next;
      return document;
    };

    let number = 1;
    for await (const document of readAhead(nextPage, PAGES_AHEAD)) {
      const total = document.meta?.paging?.total;
      yield {
        number,
        items: document.data,
        total: typeof total === 'number' && Number.isFinite(total) ? total : undefined,
      };
      number += 1;
    }
  }

  private async fetchPage<T>(
    endpoint: string,
    path: string,
    query: Query,
    onBody?: HttpRequest['onBody'],
  ): Promise<ListDocument<T>> {
    const json = await this.getJson(
      endpoint,
      path,
      { ...query, limit: String(PAGE_LIMIT) },
      onBody,
    );
    const document = json as ListDocument<T> | undefined;
    if (!document || typeof document !== 'object' || !Array.isArray(document.data)) {
      throw new IntegrationProviderAPIError({
        endpoint,
        status: 200,
        statusText: `the answer is not a JSON:API list (no "data" array); check that apiBaseUrl (API_BASE_URL) points at the ${this.manager} API`,
      });
    }
    return document;
  }

  /**
   * One authorized GET. A 401 renews the token, since Apple may revoke one
   * early or let it expire. A request takes its token before it waits for its
   * turn, so with several in flight the token can be renewed by another
   * request, or revoked, while it waits: a refused token that had already
   * been accepted, or that is no longer the current one, is simply replaced
   * (up to a bound). Only a freshly issued token that is refused before it
   * was ever accepted, twice in a row, is a real refusal of the credentials.
   */
  async getJson(
    endpoint: string,
    path: string,
    query: Query = {},
    onBody?: HttpRequest['onBody'],
  ): Promise<unknown> {
    // Once Apple has refused the credentials, every other walk of the run would only be refused
    // too, request after request: they stop at once with the same error.
    if (this.shared.refusal) throw this.shared.refusal;
    try {
      return await this.authorizedGet(endpoint, path, query, onBody);
    } catch (err) {
      if (err instanceof IntegrationProviderAuthenticationError) this.shared.refusal ??= err;
      throw err;
    }
  }

  private async authorizedGet(
    endpoint: string,
    path: string,
    query: Query,
    onBody?: HttpRequest['onBody'],
  ): Promise<unknown> {
    const url = `${this.apiBaseUrl}/v1${path}${toQueryString(query)}`;
    let freshRefusals = 0;
    let replaced = 0;
    for (;;) {
      const token = await this.auth.getToken();
      const response = await this.transport.request({
        endpoint,
        url,
        headers: { authorization: `Bearer ${token}` },
        onBody,
        logger: this.logger,
      });
      if (response.status >= 200 && response.status < 300) {
        this.auth.markAccepted(token);
        return response.json;
      }
      if (response.status !== 401) {
        throw toProviderError(
          { endpoint },
          response,
          hintFor(response.status, path, query, this.manager),
        );
      }
      const stale = !this.auth.isCurrent(token) || this.auth.wasAccepted(token);
      if (stale && replaced < MAX_TOKEN_REPLACEMENTS) {
        replaced += 1;
        this.auth.invalidate(token);
        continue;
      }
      if (!stale && freshRefusals < 1) {
        freshRefusals += 1;
        this.auth.invalidate(token);
        continue;
      }
      const why = stale
        ? `Access tokens were refused ${replaced + 1} times in a row for this request`
        : 'A freshly issued access token was refused too';
      throw new IntegrationProviderAuthenticationError({
        endpoint,
        status: 401,
        statusText: `${toProviderError({ endpoint }, response).statusText}. ${why}: check that the API account is still active in ${this.manager}`,
      });
    }
  }
}

function hintFor(status: number, path: string, query: Query, manager: string): string | undefined {
  if (status === 403) {
    return `The API account lacks the privilege for this resource: check its role in ${manager} (Preferences > API)`;
  }
  // One server's list missing while the server list named it: the server went away during the
  // run (found by a review: the hint named the override, which the other lists showed right).
  if (status === 404 && /^\/mdmServers\/[^/]+\/relationships\/devices$/.test(path)) {
    return 'The MDM server was most likely deleted during the run; the next run reads the server list again';
  }
  // A later page of a list: its first page came from the same apiBaseUrl (found by a review).
  if (status === 404 && query.cursor !== undefined) {
    return 'Apple no longer found this page of the list, which its earlier pages pointed to (the cursor may have expired); the next run reads the list from the start';
  }
  if (status === 404) return 'Check that apiBaseUrl (API_BASE_URL) is right';
  return undefined;
}

/**
 * The cursor of the next page, or undefined on the last page. A next-page
 * marker that is there but cannot be read is an error, never the end: ending
 * there would report half a list as all of it.
 */
function nextCursorOf(document: ListDocument<unknown>, endpoint: string): string | undefined {
  const unreadable = (what: string) =>
    new IntegrationProviderAPIError({
      endpoint,
      status: 200,
      statusText: `the page's ${what}, so the rest of the list cannot be fetched; stopping rather than reporting part of the list as all of it. This is an Apple-side paging fault: try again later`,
    });
  const cursor = document.meta?.paging?.nextCursor as unknown;
  if (typeof cursor === 'string' && cursor.length > 0) return cursor;
  if (cursor !== undefined && cursor !== null && cursor !== '') {
    throw unreadable(`meta.paging.nextCursor is not a string (${typeof cursor})`);
  }
  // Some answers carry the cursor only in links.next; its host cannot be trusted, its cursor can.
  const next = document.links?.next as unknown;
  if (next === undefined || next === null || next === '') return undefined;
  if (typeof next !== 'string') throw unreadable(`links.next is not a string (${typeof next})`);
  let fromLink: string | null;
  try {
    fromLink = new URL(next, 'https://placeholder.invalid').searchParams.get('cursor');
  } catch {
    throw unreadable('links.next is not a URL');
  }
  if (!fromLink) throw unreadable('links.next has no cursor parameter');
  return fromLink;
}

/**
 * The next page's cursor as the end of a page's text names it (`"nextCursor":"..."`: Apple puts
 * `meta.paging` after the data), read before the page is parsed; undefined when it is not there
 * plainly: null, missing, or with escapes. Only a guess, which the parsed page must confirm.
 */
export function peekNextCursor(text: string): string | undefined {
  const tail = text.slice(-PEEK_TAIL_CHARS);
  const at = tail.lastIndexOf('"nextCursor"');
  if (at < 0) return undefined;
  // No quotes, backslashes or control characters: what is left is a JSON string's text as is.
  // eslint-disable-next-line no-control-regex
  const match = /^"nextCursor"\s*:\s*"([^"\\\u0000-\u001f]+)"/.exec(tail.slice(at));
  // Copied through a parse: a slice would keep the page's whole text alive as long as the cursor.
  return match ? (JSON.parse(`"${match[1]}"`) as string) : undefined;
}

function toQueryString(query: Query): string {
  const params = new URLSearchParams(query).toString();
  return params ? `?${params}` : '';
}
