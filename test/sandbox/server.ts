import { randomUUID } from 'crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'http';
import { AuthService, OAuthError } from './auth';
import { CursorCodec, type CursorState } from './cursor';
import { FaultEngine } from './faults';
import type { GeneratedFleet } from './fleet';
import type { StatsRecorder } from './stats';
import type {
  DataQuirks,
  EndpointName,
  FaultRule,
  MdmServerResource,
  OrgDeviceResource,
} from './types';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** MDM server attributes that only newer API versions have (the legacyServerAttributes quirk). */
export const NEWER_SERVER_ATTRIBUTES = [
  'status',
  'defaultProductFamilies',
  'deviceCount',
  'enableMdmDisownFlag',
  'lastConnectedDateTime',
  'lastConnectedIp',
];

/** The attributes of each resource type the sandbox serves: what a fieldset may name. */
export const ATTRIBUTE_NAMES: Record<string, string[]> = {
  orgDevices: [
    'serialNumber',
    'addedToOrgDateTime',
    'releasedFromOrgDateTime',
    'updatedDateTime',
    'deviceModel',
    'productFamily',
    'productType',
    'deviceCapacity',
    'partNumber',
    'orderNumber',
    'color',
    'status',
    'orderDateTime',
    'imei',
    'meid',
    'eid',
    'wifiMacAddress',
    'bluetoothMacAddress',
    'ethernetMacAddress',
    'purchaseSourceType',
    'purchaseSourceId',
    'purchaseSourceUid',
    'isMdmMigrationCapable',
    'mdmMigrationStatus',
    'mdmMigrationDeadlineDateTime',
  ],
  mdmServers: [
    'serverName',
    'serverType',
    'createdDateTime',
    'updatedDateTime',
    ...NEWER_SERVER_ATTRIBUTES,
  ],
  appleCareCoverage: [
    'status',
    'paymentType',
    'description',
    'startDateTime',
    'endDateTime',
    'isRenewable',
    'isCanceled',
    'contractCancelDateTime',
    'agreementNumber',
  ],
  activationLockStatus: ['isLocked', 'lockType'],
};
const RELATIONSHIP_NAMES: Record<string, string[]> = {
  orgDevices: ['assignedServer', 'appleCareCoverage', 'activationLockStatus'],
  mdmServers: ['devices'],
  appleCareCoverage: [],
  activationLockStatus: [],
};

/** What a handler wants sent; faults may still cut or replace it on the way out. */
export interface Reply {
  status: number;
  body: string | Buffer;
  headers: Record<string, string>;
  /** Set on a successful page of a paged list, for stats.pagesServed. */
  pageKey?: string;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json', ...headers },
  };
}

const TITLES: Record<number, [string, string]> = {
  400: ['PARAMETER_ERROR.INVALID', 'A parameter has an invalid value'],
  401: ['UNAUTHORIZED', 'Authentication credentials are missing or invalid'],
  403: ['FORBIDDEN', 'This request is forbidden for security reasons'],
  404: ['NOT_FOUND', 'The specified resource does not exist'],
  405: ['METHOD_NOT_ALLOWED', 'The request method is not supported for this resource'],
  409: ['CONFLICT', 'The request conflicts with the current state of the resource'],
  429: ['RATE_LIMIT_EXCEEDED', 'The request rate limit has been reached'],
  500: ['INTERNAL_ERROR', 'An unexpected error occurred'],
  502: ['BAD_GATEWAY', 'The upstream service answered badly'],
  503: ['SERVICE_UNAVAILABLE', 'The service is temporarily unavailable'],
  504: ['GATEWAY_TIMEOUT', 'The upstream service did not answer in time'],
};

/** Code and title of a status: Apple's where known, else derived from the reason phrase. */
function codeAndTitle(status: number): [string, string] {
  const known = TITLES[status];
  if (known) return known;
  const phrase = STATUS_CODES[status];
  if (!phrase) return ['ERROR', 'Error'];
  return [
    phrase
      .toUpperCase()
      .replace(/[^A-Z0-9]+/g, '_')
      .replace(/^_+|_+$/g, ''),
    phrase,
  ];
}

export function apiError(
  status: number,
  detail: string,
  extra: {
    parameter?: string;
    headers?: Record<string, string>;
    code?: string;
    title?: string;
  } = {},
): Reply {
  const [code, title] = codeAndTitle(status);
  const error: Record<string, unknown> = {
    id: randomUUID(),
    status: String(status),
    code: extra.code ?? code,
    title: extra.title ?? title,
    detail,
  };
  if (extra.parameter) error.source = { parameter: extra.parameter };
  return json(status, { errors: [error] }, extra.headers);
}

/** An answer of the token endpoint other than a token, in OAuth's form. */
export function oauthReply(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): Reply {
  return json(
    status,
    { error, error_description: description },
    { 'cache-control': 'no-store', ...headers },
  );
}

function oauthError(error: OAuthError): Reply {
  return oauthReply(400, error.error, error.description);
}

const ROUTES: [RegExp, EndpointName][] = [
  [/^\/auth\/oauth2\/token$/, 'token'],
  [/^\/v1\/orgDevices$/, 'orgDevices.list'],
  [/^\/v1\/orgDevices\/([^/]+)$/, 'orgDevices.get'],
  [/^\/v1\/orgDevices\/([^/]+)\/relationships\/assignedServer$/, 'orgDevices.assignedServer.id'],
  [/^\/v1\/orgDevices\/([^/]+)\/assignedServer$/, 'orgDevices.assignedServer'],
  [/^\/v1\/orgDevices\/([^/]+)\/appleCareCoverage$/, 'orgDevices.appleCareCoverage'],
  [/^\/v1\/orgDevices\/([^/]+)\/activationLockStatus$/, 'orgDevices.activationLockStatus'],
  [/^\/v1\/mdmServers$/, 'mdmServers.list'],
  [/^\/v1\/mdmServers\/([^/]+)$/, 'mdmServers.get'],
  [/^\/v1\/mdmServers\/([^/]+)\/relationships\/devices$/, 'mdmServers.devices'],
];

export interface Route {
  endpoint: EndpointName | 'unknown';
  param?: string;
}

export function route(pathname: string): Route {
  for (const [pattern, endpoint] of ROUTES) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    if (match[1] === undefined) return { endpoint };
    try {
      return { endpoint, param: decodeURIComponent(match[1]) };
    } catch {
      return { endpoint: 'unknown' };
    }
  }
  return { endpoint: 'unknown' };
}

/** Thrown by the token throttle: the client asked again too soon. */
class TokenThrottled extends Error {
  constructor(readonly waitSeconds: number) {
    super('token requested too soon');
  }
}

const PAGED: ReadonlySet<string> = new Set([
  'orgDevices.list',
  'mdmServers.list',
  'mdmServers.devices',
  'orgDevices.appleCareCoverage',
]);

class BadRequest extends Error {
  constructor(
    readonly detail: string,
    readonly parameter: string,
  ) {
    super(detail);
  }
}

interface Query {
  limit: number;
  limitGiven: boolean;
  cursor?: string;
  /** type -> requested names; a type absent here means "all". */
  fields: Map<string, Set<string>>;
  /** The wrong host Apple's example puts in links.next (the cursorOnlyInLinksNext quirk). */
  wrongHost?: string;
}

function parseQuery(endpoint: string, params: URLSearchParams, quirks: DataQuirks): Query {
  const paged = PAGED.has(endpoint);
  const seen = new Set<string>();
  const query: Query = { limit: DEFAULT_LIMIT, limitGiven: false, fields: new Map() };
  for (const [name, value] of params) {
    if (seen.has(name))
      throw new BadRequest(`The parameter '${name}' was given more than once`, name);
    seen.add(name);
    const fieldsMatch = /^fields\[([A-Za-z]+)\]$/.exec(name);
    if (fieldsMatch) {
      const type = fieldsMatch[1];
      // Own names only: `fields[constructor]` must not find what every object inherits.
      const known = Object.hasOwn(ATTRIBUTE_NAMES, type) ? ATTRIBUTE_NAMES[type] : undefined;
      if (!known) throw new BadRequest(`'${type}' is not a resource type`, name);
      const names = value.split(',').map((s) => s.trim());
      for (const field of names) {
        const unknown =
          (!known.includes(field) && !RELATIONSHIP_NAMES[type].includes(field)) ||
          (quirks.purchaseSourceUidOnly && field === 'purchaseSourceId');
        if (unknown) {
          throw new BadRequest(`'${field}' is not a valid field name for ${type}`, name);
        }
      }
      query.fields.set(type, new Set(names));
    } else if (paged && name === 'limit') {
      if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) {
        throw new BadRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`, name);
      }
      query.limit = Number(value);
      query.limitGiven = true;
    } else if (paged && name === 'cursor') {
      query.cursor = value;
    } else {
      throw new BadRequest(`The parameter '${name}' is not allowed here`, name);
    }
  }
  return query;
}

/** A resource with those of `names` that it is served with set to null (`nullAttributes`). */
function withNulls<R extends { attributes: object }>(resource: R, names: string[]): R {
  const present = names.filter((name) => name in resource.attributes);
  if (present.length === 0) return resource;
  const attributes: Record<string, unknown> = { ...resource.attributes };
  for (const name of present) attributes[name] = null;
  return { ...resource, attributes };
}

/** Applies a sparse fieldset to a resource; purchaseSourceId/Uid select each other's spelling. */
function sparse<T extends { type: string; attributes: object; relationships?: object }>(
  resource: T,
  fields: Map<string, Set<string>>,
): T {
  const wanted = fields.get(resource.type);
  if (!wanted) return resource;
  // Built by copying, never by `delete`: a deleted key turns an object into a slow dictionary,
  // and every page is thousands of them on their way to JSON.stringify.
  const given = resource.attributes as Record<string, unknown>;
  let attributes = given;
  for (const name in given) {
    if (!isWanted(wanted, name)) {
      attributes = {};
      for (const kept in given) if (isWanted(wanted, kept)) attributes[kept] = given[kept];
      break;
    }
  }
  let relationships: Record<string, unknown> | undefined;
  const related = resource.relationships as Record<string, unknown> | undefined;
  if (related) {
    for (const name in related) if (wanted.has(name)) (relationships ??= {})[name] = related[name];
  }
  // The members in the resource's own order, relationships left out when none is wanted.
  const out: Record<string, unknown> = {};
  for (const key in resource) {
    if (key === 'attributes') out.attributes = attributes;
    else if (key === 'relationships') {
      if (relationships) out.relationships = relationships;
    } else out[key] = resource[key];
  }
  return out as T;
}

/** Attributes with `purchaseSourceId` spelled `purchaseSourceUid`, in the same place. */
function uidSpelling<A extends object>(attributes: A): A {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attributes)) {
    out[name === 'purchaseSourceId' ? 'purchaseSourceUid' : name] = value;
  }
  return out as A;
}

/** Whether a fieldset names an attribute; Apple's two spellings of the purchase source id count as one. */
function isWanted(wanted: Set<string>, name: string): boolean {
  if (wanted.has(name)) return true;
  if (name === 'purchaseSourceUid') return wanted.has('purchaseSourceId');
  if (name === 'purchaseSourceId') return wanted.has('purchaseSourceUid');
  return false;
}

interface PageResult {
  items: unknown[];
  /** A state to encode, or a cursor string to hand back verbatim (the repeat quirk). */
  next?: CursorState | string;
}

export interface ApiContext {
  fleet: GeneratedFleet;
  auth: AuthService;
  cursors: CursorCodec;
  quirks: DataQuirks;
  baseUrl: string;
  faults: () => FaultEngine;
  stats: StatsRecorder;
}

export class SandboxHandler {
  constructor(private readonly ctx: ApiContext) {}

  /** `body` is undefined when it was larger than the sandbox reads. */
  token(method: string, contentType: string | undefined, body: string | undefined): Reply {
    if (method !== 'POST') {
      return json(
        405,
        { error: 'invalid_request', error_description: 'use POST' },
        { allow: 'POST' },
      );
    }
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType ?? '')) {
      return oauthError(
        new OAuthError('invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
      );
    }
    if (body === undefined) {
      return oauthError(new OAuthError('invalid_request', 'the request body is too large'));
    }
    const faults = this.ctx.faults();
    try {
      const token = this.ctx.auth.issueToken(new URLSearchParams(body), (clientId) => {
        const wait = faults.tokenWait(clientId);
        if (wait !== undefined) throw new TokenThrottled(wait);
      });
      faults.tokenIssued(token.clientId);
      // Counted here, when issued, even if a truncate or reset fault then cuts the answer.
      this.ctx.stats.tokenIssued();
      return json(
        200,
        {
          access_token: token.token,
          token_type: 'Bearer',
          expires_in: this.ctx.auth.ttlSeconds,
          scope: token.scope,
        },
        { 'cache-control': 'no-store', pragma: 'no-cache' },
      );
    } catch (error) {
      if (error instanceof OAuthError) return oauthError(error);
      if (error instanceof TokenThrottled) {
        this.ctx.stats.fault('tokenThrottle');
        const status = faults.config.tokenThrottle?.status ?? 429;
        return oauthReply(
          status,
          'invalid_request',
          'too many token requests for this client; reuse the access token until it expires',
          status === 429 ? { 'retry-after': String(error.waitSeconds) } : {},
        );
      }
      throw error;
    }
  }

  api(req: IncomingMessage, url: URL, where: Route): Reply {
    const authorization = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!bearer)
      return apiError(401, 'An Authorization header with a Bearer access token is required');
    const checked = this.ctx.auth.check(bearer[1]);
    if ('refused' in checked) {
      const why = { unknown: 'is not valid', expired: 'has expired', revoked: 'has been revoked' }[
        checked.refused
      ];
      return apiError(401, `The access token ${why}`);
    }
    const limit = this.ctx.faults().config.revokeTokenAfterRequests;
    if (limit !== undefined && checked.token.uses >= limit) {
      checked.token.revoked = true;
      this.ctx.stats.fault('revoke');
      return apiError(401, 'The access token has been revoked');
    }
    checked.token.uses++;

    if (where.endpoint === 'unknown' || where.endpoint === 'token') {
      return apiError(404, `The path ${url.pathname} does not exist`);
    }
    if (req.method !== 'GET') {
      return apiError(405, `${req.method} is not supported on ${url.pathname}`, {
        headers: { allow: 'GET' },
      });
    }
    let query: Query;
    try {
      query = parseQuery(where.endpoint, url.searchParams, this.ctx.quirks);
    } catch (error) {
      if (error instanceof BadRequest)
        return apiError(400, error.detail, { parameter: error.parameter });
      throw error;
    }
    query.wrongHost =
      checked.token.scope === 'school.api'
        ? 'https://api-school.apple'
        : 'https://api-business.apple';
    try {
      return this.dispatch(where.endpoint, where.param ?? '', query, url);
    } catch (error) {
      if (error instanceof BadRequest)
        return apiError(400, error.detail, { parameter: error.parameter });
      throw error;
    }
  }

  private dispatch(endpoint: EndpointName, param: string, query: Query, url: URL): Reply {
    const { fleet } = this.ctx;
    const self = `${this.ctx.baseUrl}${url.pathname}${url.search}`;
    switch (endpoint) {
      case 'orgDevices.list':
        return this.orgDeviceList(query, url, self);
      case 'mdmServers.list':
        return this.page(
          'mdmServers.list',
          query,
          url,
          self,
          fleet.servers.length,
          (state, limit) => {
            const items = fleet.servers.slice(state.position, state.position + limit);
            return this.advance(state, items, fleet.servers.length, state.position + items.length);
          },
        ).withItems((s) => this.presentServer(s as MdmServerResource, query.fields));
      case 'mdmServers.get': {
        const server = this.server(param);
        if (!server)
          return apiError(404, `There is no device management service with id '${param}'`);
        return json(200, { data: this.presentServer(server, query.fields), links: { self } });
      }
      case 'mdmServers.devices':
        return this.serverDevices(param, query, url, self);
      default:
        break;
    }

    if (endpoint === 'orgDevices.activationLockStatus' && this.ctx.quirks.legacyServerAttributes) {
      // Older API versions have no such endpoint.
      return apiError(404, `The path ${url.pathname} does not exist`);
    }
    const index = fleet.deviceIndexBySerial(param);
    if (index === undefined)
      return apiError(404, `There is no device with serial number '${param}' in the organization`);
    switch (endpoint) {
      case 'orgDevices.get':
        return json(200, {
          data: this.presentDevice(this.fullDevice(index), index, query.fields),
          links: { self },
        });
      case 'orgDevices.assignedServer.id': {
        const serverId = fleet.serverIdOfDevice(index);
        return json(200, {
          data: serverId === null ? null : { type: 'mdmServers', id: serverId },
          links: { self, related: `${this.ctx.baseUrl}/v1/orgDevices/${param}/assignedServer` },
        });
      }
      case 'orgDevices.assignedServer': {
        const serverId = fleet.serverIdOfDevice(index);
        const server = serverId === null ? undefined : this.server(serverId);
        return json(200, {
          data: server ? this.presentServer(server, query.fields) : null,
          links: { self },
        });
      }
      case 'orgDevices.activationLockStatus':
        return json(200, {
          data: sparse(
            {
              type: 'activationLockStatus',
              id: param,
              attributes: fleet.activationLockStatus(index),
            },
            query.fields,
          ),
          links: { self },
        });
      case 'orgDevices.appleCareCoverage': {
        const records = fleet.appleCareCoverage(index);
        return this.page(
          `appleCare:${param}`,
          query,
          url,
          self,
          records.length,
          (state, limit) => {
            const items = records.slice(state.position, state.position + limit);
            return this.advance(state, items, records.length, state.position + items.length);
          },
          param,
        ).withItems((r) => sparse(r as (typeof records)[number], query.fields));
      }
      default:
        return apiError(404, `The path ${url.pathname} does not exist`);
    }
  }

  private server(id: string): MdmServerResource | undefined {
    const slot = this.ctx.fleet.serverSlot(id);
    return slot === undefined ? undefined : this.ctx.fleet.servers[slot];
  }

  private fullDevice(index: number): OrgDeviceResource {
    const device = this.ctx.fleet.device(index);
    device.attributes.releasedFromOrgDateTime ??= null;
    return device;
  }

  private listDevice(index: number, fields: Map<string, Set<string>>): OrgDeviceResource {
    const device = this.ctx.fleet.device(index);
    delete device.attributes.releasedFromOrgDateTime;
    return this.presentDevice(device, index, fields);
  }

  /** A device as served: the version quirks, the fieldset, any nulls, then any extra attributes. */
  private presentDevice(
    device: OrgDeviceResource,
    index: number,
    fields: Map<string, Set<string>>,
  ): OrgDeviceResource {
    const { quirks, fleet } = this.ctx;
    if (quirks.legacyServerAttributes) {
      delete (device.relationships as Partial<OrgDeviceResource['relationships']>)
        .activationLockStatus;
    }
    if (quirks.purchaseSourceUidOnly && 'purchaseSourceId' in device.attributes) {
      device.attributes = uidSpelling(device.attributes);
    }
    let out = sparse(device, fields);
    if (quirks.nullAttributes) {
      out = withNulls(out, fleet.nulledDeviceAttributes(index, ATTRIBUTE_NAMES.orgDevices));
    }
    if (!quirks.extraAttributes) return out;
    return { ...out, attributes: { ...out.attributes, ...fleet.extraDeviceAttributes(index) } };
  }

  /** A server as served: without the newer attributes on a legacy API, any nulls, extras last. */
  private presentServer(
    server: MdmServerResource,
    fields: Map<string, Set<string>>,
  ): MdmServerResource {
    const { quirks, fleet } = this.ctx;
    let resource = server;
    if (quirks.legacyServerAttributes) {
      const attributes: Record<string, unknown> = { ...server.attributes };
      for (const name of NEWER_SERVER_ATTRIBUTES) delete attributes[name];
      resource = {
        ...server,
        attributes: attributes as unknown as MdmServerResource['attributes'],
      };
    }
    let out = sparse(resource, fields);
    const slot = fleet.serverSlot(server.id) as number;
    if (quirks.nullAttributes) {
      out = withNulls(out, fleet.nulledServerAttributes(slot, ATTRIBUTE_NAMES.mdmServers));
    }
    if (!quirks.extraAttributes) return out;
    return { ...out, attributes: { ...out.attributes, ...fleet.extraServerAttributes(slot) } };
  }

  private advance(
    state: CursorState,
    items: unknown[],
    total: number,
    position: number,
  ): { items: unknown[]; next?: CursorState } {
    const emitted = state.emitted + items.length;
    return {
      items,
      next:
        emitted < total
          ? { context: state.context, position, emitted, page: state.page + 1 }
          : undefined,
    };
  }

  private orgDeviceList(query: Query, url: URL, self: string): Reply {
    const { fleet, quirks } = this.ctx;
    // The reported quirk: released devices only show when a fieldset is asked for explicitly.
    const includeReleased = query.fields.has('orgDevices');
    const total = includeReleased ? fleet.deviceCount : fleet.unreleasedCount;
    const context = `orgDevices.list:${includeReleased ? 'all' : 'current'}`;
    return this.page(context, query, url, self, total, (state, limit, given) => {
      if ((quirks.emptyPageWithNext ?? []).includes(state.page) && state.emitted < total) {
        return { items: [], next: { ...state, page: state.page + 1 } };
      }
      const indices: number[] = [];
      let position = state.position;
      while (indices.length < limit && position < fleet.deviceCount) {
        if (includeReleased || !fleet.isReleased(position)) indices.push(position);
        position++;
      }
      const { next } = this.advance(state, indices, total, position);
      const result: PageResult = { items: indices, next };
      const overlap = Math.min(
        Math.max(0, Math.floor(quirks.duplicateDevicesAcrossPages ?? 0)),
        indices.length - 1,
      );
      if (next && overlap > 0) {
        result.next = {
          ...next,
          position: indices[indices.length - overlap],
          emitted: next.emitted - overlap,
        };
      }
      if (quirks.repeatCursorOnPage === state.page) result.next = given;
      return result;
    }).withItems((i) => this.listDevice(i as number, query.fields));
  }

  private serverDevices(serverId: string, query: Query, url: URL, self: string): Reply {
    const { fleet } = this.ctx;
    const slot = fleet.serverSlot(serverId);
    if (slot === undefined)
      return apiError(404, `There is no device management service with id '${serverId}'`);
    const realCount = fleet.serverRealCount(slot);
    // Serials after the server's own devices: ghosts on the first server, another server's
    // devices on the second (the quirks). A cursor past the fleet's indices points into them.
    const extras = slot === 0 ? fleet.unknownSerials : slot === 1 ? fleet.listedTwiceSerials : [];
    const total = realCount + extras.length;
    return this.page(
      `mdmServers.devices:${serverId}`,
      query,
      url,
      self,
      total,
      (state, limit) => {
        const serials: string[] = [];
        let position = state.position;
        let realSeen = Math.min(state.emitted, realCount);
        if (realSeen < realCount && position < fleet.deviceCount) {
          // The server's devices, ascending: continue at the first one at or after the cursor's
          // position, so a page costs its own size instead of a scan of the fleet.
          const members = fleet.serverMembers(slot);
          let k = lowerBound(members, position);
          while (serials.length < limit && realSeen < realCount && k < members.length) {
            serials.push(fleet.serialOf(members[k]));
            position = members[k] + 1;
            realSeen++;
            k++;
          }
        }
        if (realSeen >= realCount) position = Math.max(position, fleet.deviceCount);
        while (serials.length < limit && position - fleet.deviceCount < extras.length) {
          serials.push(extras[position - fleet.deviceCount]);
          position++;
        }
        return this.advance(state, serials, total, position);
      },
      serverId,
    ).withItems((serial) => ({ type: 'orgDevices', id: serial as string }));
  }

  /**
   * Shared paging: reads the cursor, lets `fill` produce one page, and builds the document.
   * Items are mapped to resources afterwards so `fill` can stay about positions.
   */
  private page(
    context: string,
    query: Query,
    url: URL,
    self: string,
    total: number,
    fill: (state: CursorState, limit: number, given: string) => PageResult,
    parent?: string,
  ): { withItems: (map: (item: unknown) => unknown) => Reply } {
    let state: CursorState = { context, position: 0, emitted: 0, page: 1 };
    if (query.cursor !== undefined) {
      const decoded = this.ctx.cursors.decode(query.cursor, context);
      if (!decoded) throw new BadRequest('The cursor is not valid for this request', 'cursor');
      state = decoded;
    }
    const given = query.cursor ?? this.ctx.cursors.encode(state);
    const result = fill(state, query.limit, given);
    return {
      withItems: (map) => {
        const nextCursor =
          result.next === undefined
            ? undefined
            : typeof result.next === 'string'
              ? result.next
              : this.ctx.cursors.encode(result.next);
        const { quirks } = this.ctx;
        const onlyInLinks = quirks.cursorOnlyInLinksNext === true;
        const links: Record<string, string> = { self };
        if (nextCursor) {
          const host = onlyInLinks ? query.wrongHost : this.ctx.baseUrl;
          links.next = `${host}${url.pathname}?cursor=${encodeURIComponent(nextCursor)}`;
        }
        const paging: Record<string, unknown> = { limit: query.limit };
        if (nextCursor && !onlyInLinks) paging.nextCursor = nextCursor;
        if (!quirks.omitPagingTotal) paging.total = total;
        const reply = json(200, { data: result.items.map(map), links, meta: { paging } });
        const key = query.cursor ?? 'first';
        reply.pageKey = parent === undefined ? key : `${parent}/${key}`;
        return reply;
      },
    };
  }
}

/** First position in an ascending array whose value is at least `value`. */
function lowerBound(sorted: Uint32Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The replies a fault rule sends instead of the real answer. The token endpoint refuses in
 * OAuth's form (`error`, `error_description`), as it does on its own: a `status` rule's `code` is
 * then the OAuth error, by default `invalid_client` for a 401 and `invalid_request` otherwise. Its
 * 5xx stay in the errors body, which is what a server in front of it would send.
 */
export function faultReply(
  rule: FaultRule,
  retryAfter: string | undefined,
  endpoint?: EndpointName | 'unknown',
): Reply | undefined {
  const token = endpoint === 'token';
  switch (rule.kind) {
    case 'tooManyRequests': {
      const headers: Record<string, string> =
        retryAfter === undefined ? {} : { 'retry-after': retryAfter };
      const detail = 'Too many requests; retry later';
      return token
        ? oauthReply(429, 'invalid_request', detail, headers)
        : apiError(429, detail, { headers });
    }
    case 'serverError': {
      const status = rule.status ?? 500;
      return apiError(status, 'The server could not complete the request');
    }
    case 'status':
      if (token && rule.status < 500) {
        const error = rule.code ?? (rule.status === 401 ? 'invalid_client' : 'invalid_request');
        return oauthReply(rule.status, error, rule.detail ?? 'The request could not be completed');
      }
      return apiError(rule.status, rule.detail ?? 'The request could not be completed', {
        code: rule.code,
        title: rule.title,
      });
    case 'html':
      return htmlPage(rule.status ?? 502);
    default:
      return undefined;
  }
}

/** The kind of page a proxy or load balancer sends in place of the API's JSON. */
function htmlPage(status: number): Reply {
  const phrase = STATUS_CODES[status] ?? 'Error';
  const message =
    status === 502
      ? 'The proxy server received an invalid response from an upstream server.'
      : status >= 500
        ? 'The server is temporarily unable to service your request. Please try again later.'
        : status >= 400
          ? 'Your request could not be handled.'
          : 'Please sign in to continue.';
  return {
    status,
    body: `<!DOCTYPE html>\n<html><head><title>${status} ${phrase}</title></head><body><h1>${status} ${phrase}</h1><p>${message}</p></body></html>\n`,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  };
}

export function sendReply(res: ServerResponse, reply: Reply): void {
  const body = Buffer.from(reply.body);
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
  res.end(body);
}
