/**
 * Shapes of the Apple Business Manager API's resources, as documented. Apple
 * adds attributes without a version change and any documented one may be
 * missing or null, so everything is optional and converters check types at
 * run time instead of trusting these declarations.
 */

export interface Resource<TType extends string, TAttributes> {
  type: TType;
  id: string;
  attributes?: Partial<TAttributes> & Record<string, unknown>;
  relationships?: Record<string, unknown>;
  links?: { self?: string };
}

export interface ResourceIdentifier<TType extends string> {
  type: TType;
  id: string;
}

export interface OrgDeviceAttributes {
  serialNumber: string | null;
  addedToOrgDateTime: string | null;
  updatedDateTime: string | null;
  releasedFromOrgDateTime: string | null;
  deviceModel: string | null;
  productFamily: string | null;
  productType: string | null;
  deviceCapacity: string | null;
  partNumber: string | null;
  orderNumber: string | null;
  orderDateTime: string | null;
  color: string | null;
  status: string | null;
  imei: string[] | null;
  meid: string[] | null;
  eid: string | null;
  wifiMacAddress: string | string[] | null;
  bluetoothMacAddress: string | string[] | null;
  ethernetMacAddress: string[] | null;
  purchaseSourceType: string | null;
  purchaseSourceId: string | null;
  /** Apple's own example spells `purchaseSourceId` this way. */
  purchaseSourceUid: string | null;
  isMdmMigrationCapable: boolean | null;
  mdmMigrationStatus: string | null;
  mdmMigrationDeadlineDateTime: string | null;
}

export interface MdmServerAttributes {
  serverName: string | null;
  serverType: string | null;
  createdDateTime: string | null;
  updatedDateTime: string | null;
  status: string | null;
  defaultProductFamilies: string[] | null;
  deviceCount: number | null;
  enableMdmDisownFlag: boolean | null;
  lastConnectedDateTime: string | null;
  lastConnectedIp: string | null;
}

export type OrgDevice = Resource<'orgDevices', OrgDeviceAttributes>;
export type MdmServer = Resource<'mdmServers', MdmServerAttributes>;

/** Every documented `mdmServers` attribute, older and newer API versions together. */
export const MDM_SERVER_ATTRIBUTES = [
  'serverName',
  'serverType',
  'createdDateTime',
  'updatedDateTime',
  'status',
  'defaultProductFamilies',
  'deviceCount',
  'enableMdmDisownFlag',
  'lastConnectedDateTime',
  'lastConnectedIp',
];

/** Every documented `orgDevices` attribute, both spellings of the purchase source id included. */
export const ORG_DEVICE_ATTRIBUTES = [
  'serialNumber',
  'addedToOrgDateTime',
  'updatedDateTime',
  'releasedFromOrgDateTime',
  'deviceModel',
  'productFamily',
  'productType',
  'deviceCapacity',
  'partNumber',
  'orderNumber',
  'orderDateTime',
  'color',
  'status',
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
] as const;

/**
 * The attributes requested with `fields[orgDevices]`. Sending the list
 * explicitly matters: without it the device list has been seen to leave out
 * released devices. `releasedFromOrgDateTime` is only served on the
 * single-device call, so it is not asked for. The purchase source id is asked
 * for as the reference spells it, `purchaseSourceId`, not also as Apple's
 * example does (`purchaseSourceUid`): a name the API does not know could get
 * the whole list refused.
 */
export const ORG_DEVICE_LIST_FIELDS = ORG_DEVICE_ATTRIBUTES.filter(
  (name) => name !== 'releasedFromOrgDateTime' && name !== 'purchaseSourceUid',
);

/**
 * The same attributes with the purchase source id spelled as in Apple's example, asked for
 * only when Apple refuses the first fieldset (a 400 on the list's first page): the example's
 * spelling is then taken to be the API's own.
 */
export const ORG_DEVICE_LIST_FIELDS_UID = ORG_DEVICE_LIST_FIELDS.map((name) =>
  name === 'purchaseSourceId' ? 'purchaseSourceUid' : name,
);

/** A JSON:API list document, as far as the collector relies on it. */
export interface ListDocument<T> {
  data: T[];
  links?: { self?: string; next?: string };
  meta?: { paging?: { limit?: number; nextCursor?: string | null; total?: number } };
}

export interface AppleErrorBody {
  errors?: Array<{
    id?: string;
    status?: string;
    code?: string;
    title?: string;
    detail?: string;
  }>;
  error?: string;
  error_description?: string;
}
