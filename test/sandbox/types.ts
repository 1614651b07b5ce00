/**
 * Shapes the sandbox serves and the knobs it takes. Resource shapes follow
 * /work/shared/abm-api.md; everything Apple documents as optional stays optional here too.
 */

export type ProductFamily = 'iPhone' | 'iPad' | 'Mac' | 'AppleTV' | 'Watch' | 'Vision';
export type PurchaseSourceType = 'APPLE' | 'RESELLER' | 'MANUALLY_ADDED';
export type MdmMigrationStatus = 'REQUESTED' | 'STARTED' | 'SUCCESS' | 'FAILED';
export type ServerType = 'MDM' | 'APPLE_CONFIGURATOR' | 'APPLE_MDM';
export type ServerStatus = 'ACTIVE' | 'INACTIVE' | 'DELETED';

export interface OrgDeviceAttributes {
  serialNumber: string;
  addedToOrgDateTime: string;
  /** Only on the single-device GET; `null` there for devices still in the organization. */
  releasedFromOrgDateTime?: string | null;
  updatedDateTime: string;
  deviceModel: string;
  productFamily: ProductFamily;
  productType: string;
  deviceCapacity: string;
  partNumber: string;
  orderNumber?: string;
  color: string;
  status: 'ASSIGNED' | 'UNASSIGNED';
  orderDateTime?: string;
  imei?: string[];
  meid?: string[];
  eid?: string;
  /** Documented as a string; some devices carry an array, as seen in the wild. */
  wifiMacAddress?: string | string[];
  bluetoothMacAddress?: string | string[];
  ethernetMacAddress?: string[];
  purchaseSourceType: PurchaseSourceType;
  purchaseSourceId?: string;
  /** Apple's own example spells the field this way; a share of sandbox devices does too. */
  purchaseSourceUid?: string;
  isMdmMigrationCapable: boolean;
  mdmMigrationStatus?: MdmMigrationStatus | null;
  mdmMigrationDeadlineDateTime?: string | null;
}

export interface Links {
  self: string;
  related?: string;
}

export interface OrgDeviceResource {
  type: 'orgDevices';
  id: string;
  attributes: OrgDeviceAttributes;
  relationships: {
    assignedServer: { links: Links };
    appleCareCoverage: { links: Links };
    activationLockStatus: { links: Links };
  };
  links: { self: string };
}

export interface MdmServerAttributes {
  serverName: string;
  serverType: ServerType;
  createdDateTime: string;
  updatedDateTime: string;
  status: ServerStatus;
  defaultProductFamilies: string[];
  deviceCount: number;
  enableMdmDisownFlag: boolean;
  lastConnectedDateTime: string | null;
  lastConnectedIp: string | null;
}

export interface MdmServerResource {
  type: 'mdmServers';
  id: string;
  attributes: MdmServerAttributes;
  relationships: { devices: { links: Links } };
  links: { self: string };
}

export interface AppleCareCoverageAttributes {
  status: 'ACTIVE' | 'INACTIVE';
  paymentType: 'ABE_SUBSCRIPTION' | 'PAID_UP_FRONT' | 'SUBSCRIPTION' | 'NONE';
  description: string;
  startDateTime: string;
  endDateTime: string | null;
  isRenewable: boolean;
  isCanceled: boolean;
  contractCancelDateTime: string | null;
  agreementNumber: string | null;
}

export interface AppleCareCoverageResource {
  type: 'appleCareCoverage';
  id: string;
  attributes: AppleCareCoverageAttributes;
}

export interface ActivationLockStatusAttributes {
  isLocked: boolean;
  lockType: 'MDM' | 'USER' | 'NONE';
}

export interface ActivationLockStatusResource {
  type: 'activationLockStatus';
  id: string;
  attributes: ActivationLockStatusAttributes;
}

export interface Fleet {
  seed: number;
  deviceCount: number;
  servers: MdmServerResource[];
  device(index: number): OrgDeviceResource;
  deviceIndexBySerial(serial: string): number | undefined;
  serverIdOfDevice(index: number): string | null;
  serverDeviceIndices(serverId: string): Iterable<number>;
  appleCareCoverage(index: number): AppleCareCoverageResource[];
  activationLockStatus(index: number): ActivationLockStatusAttributes;
  /** Whether the device left the organization (omitted from the default device list). */
  isReleased(index: number): boolean;
  /** Number of devices the list shows when no `fields[orgDevices]` is sent. */
  unreleasedCount: number;
  /**
   * The attributes, of `names` (the documented ones), that the `nullAttributes` quirk picks for
   * this device, whether or not the quirk is on; it serves as null those of them the device is
   * served with.
   */
  nulledDeviceAttributes(index: number, names: readonly string[]): string[];
  /** Serials the second server lists after its own devices (the devicesListedTwice quirk). */
  readonly listedTwiceSerials: readonly string[];
}

/** Stable names for the endpoints; fault rules and statistics use them. */
export const ENDPOINT_NAMES = [
  'token',
  'orgDevices.list',
  'orgDevices.get',
  'mdmServers.list',
  'mdmServers.get',
  'mdmServers.devices',
  'orgDevices.assignedServer.id',
  'orgDevices.assignedServer',
  'orgDevices.appleCareCoverage',
  'orgDevices.activationLockStatus',
] as const;
export type EndpointName = (typeof ENDPOINT_NAMES)[number];

/**
 * Which requests a rule applies to: a list of endpoint names, `'api'` (every /v1 request,
 * including unknown paths) or `'all'` (the token endpoint too). Default `'all'`.
 */
export type EndpointScope = EndpointName | EndpointName[] | 'api' | 'all';

/**
 * When a rule fires, counted over the requests its scope matches (1-based). With none of
 * `nth`, `every`, `rate` given it fires on every matching request. `times` caps the firings.
 */
export interface FaultTrigger {
  endpoints?: EndpointScope;
  nth?: number | number[];
  every?: number;
  /** Probability in [0, 1]; drawn from the fault PRNG (FaultConfig.seed), so runs repeat. */
  rate?: number;
  times?: number;
}

export type FaultRule =
  | (FaultTrigger & {
      kind: 'tooManyRequests';
      /** Default 1. */
      retryAfterSeconds?: number;
      /** Default 'seconds'. 'none' leaves the header out. */
      retryAfterFormat?: 'seconds' | 'http-date' | 'none';
    })
  /** A 5xx (default 500) with an Apple-style errors body. */
  | (FaultTrigger & { kind: 'serverError'; status?: number })
  | (FaultTrigger & {
      kind: 'reset';
      /** Bytes of the real body written before the socket is destroyed; default half. */
      afterBytes?: number;
    })
  | (FaultTrigger & {
      kind: 'truncate';
      /** Bytes of the real body kept; default half. Content-Length matches the cut body. */
      keepBytes?: number;
    })
  /** A `text/html` page in place of the answer; status 200..599, default 502. */
  | (FaultTrigger & { kind: 'html'; status?: number })
  | (FaultTrigger & { kind: 'hang' })
  | (FaultTrigger & {
      /**
       * Any 4xx or 5xx with an Apple-style errors body, e.g. 403 `FORBIDDEN` or 409 `CONFLICT`.
       * `code`, `title` and `detail` override the defaults of the status. On the token endpoint a
       * 4xx is an OAuth error instead: `code` the `error`, `detail` its `error_description`.
       */
      kind: 'status';
      status: number;
      code?: string;
      title?: string;
      detail?: string;
    });

export type FaultKind = FaultRule['kind'];

export interface LatencyRule {
  endpoints?: EndpointScope;
  ms: number;
  jitterMs?: number;
}

export interface FaultConfig {
  /** Seeds the PRNG used for `rate` and jitter. Default 1. */
  seed?: number;
  latency?: LatencyRule | LatencyRule[];
  /**
   * A sliding window over admitted requests, of a second (`rps`) or a minute (`perMinute`: Apple
   * has been reported to allow about 20 a minute); excess answers 429 with a Retry-After that
   * says when the window frees a place. Exactly one of the two.
   */
  rateLimit?: {
    rps?: number;
    perMinute?: number;
    /** Default `'api'`: the limit reported from Apple counts GETs, not the token endpoint. */
    endpoints?: EndpointScope;
    retryAfterFormat?: 'seconds' | 'http-date';
  };
  rules?: FaultRule[];
  /** Every access token is revoked once it has authorized this many API requests. */
  revokeTokenAfterRequests?: number;
  /**
   * Requests in flight at once (token endpoint included). A request that arrives while
   * `limit` are already in flight is refused: 'reset' destroys its socket without an answer
   * (default), '503' answers 503 with an errors body.
   */
  maxConcurrent?: { limit: number; action?: 'reset' | '503' };
  /**
   * Token endpoint throttle: a client that asks for a token less than `minIntervalSeconds`
   * (sandbox clock) after it was last issued one is refused with an OAuth-style body
   * (`invalid_request`): 429 with Retry-After (default) or 400 without, as clients report both.
   */
  tokenThrottle?: { minIntervalSeconds: number; status?: 429 | 400 };
  /**
   * Every connection is closed by the sandbox once it has answered this many requests on it,
   * right after the last answer and without `Connection: close`, as Apple was reported to drop a
   * long walk's connection after about 20 pages. A client that sends its next request on the
   * connection before it sees it close meets a reset or a hang-up with no answer.
   */
  dropConnectionAfter?: number;
}

export interface DataQuirks {
  /** Page N (1-based) of orgDevices.list returns, as nextCursor, the cursor it was given. */
  repeatCursorOnPage?: number;
  /** These page numbers of orgDevices.list come back empty, with a nextCursor that continues. */
  emptyPageWithNext?: number[];
  /** Every orgDevices.list page after the first starts with this many devices of the previous one. */
  duplicateDevicesAcrossPages?: number;
  /** This many serials that no device list contains are appended to the first server's id list. */
  assignmentsToUnknownDevices?: number;
  /**
   * The first server's first N devices are appended to the second server's id list too, as the
   * lists of devices moved from one server to the other while a run read them would show.
   */
  devicesListedTwice?: number;
  /** Lists leave `meta.paging.total` out, as Apple's own examples do. */
  omitPagingTotal?: boolean;
  /**
   * Lists leave `meta.paging.nextCursor` out; the cursor is only in `links.next`, whose host is
   * wrong (`https://api-business.apple`, or `api-school.apple` for a school token) as in an
   * example of Apple's.
   */
  cursorOnlyInLinksNext?: boolean;
  /**
   * An older API version: MDM servers lack `status`, `defaultProductFamilies`, `deviceCount`,
   * `enableMdmDisownFlag`, `lastConnectedDateTime` and `lastConnectedIp`; devices lack the
   * `activationLockStatus` relationship and `activationLockStatus` answers 404.
   */
  legacyServerAttributes?: boolean;
  /** Devices and servers carry attributes the reference does not know, fieldset or not. */
  extraAttributes?: boolean;
  /**
   * Documented attributes come as null now and then, as the reference allows ("treat every
   * documented one as optional and nullable"): about one device in four and one server in four
   * has one to four of the attributes it is served with set to null (a device's serial number
   * among them at times; its resource id still names it).
   */
  nullAttributes?: boolean;
  /**
   * The API knows the purchase source id only as Apple's example spells it: every device that
   * has one carries `purchaseSourceUid` (lists and single GET), and a fieldset naming
   * `purchaseSourceId` is refused with 400, as any unknown field name is.
   */
  purchaseSourceUidOnly?: boolean;
  /**
   * Every list's cursors hold `+` and `/` (standard base64 behind a `+/`, with `=` padding where
   * its length needs it), which a query must percent-encode: sent as they are, the server reads
   * each `+` as a space and refuses the cursor.
   */
  cursorsWithReservedCharacters?: boolean;
}

export interface SandboxStats {
  totalRequests: number;
  byEndpoint: Record<string, Record<string, number>>;
  tokensIssued: number;
  maxInFlight: number;
  inFlight: number;
  faultsInjected: Record<string, number>;
  pagesServed: Record<string, Record<string, number>>;
  /**
   * CPU time (user and system, in ms) of the process the sandbox runs in, since it started or
   * the stats were last reset. With the CLI that is the sandbox's own process: on a machine it
   * shares with the client, what answering took from the client's cores.
   */
  cpuMs: number;
}
