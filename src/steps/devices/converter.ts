import { ORG_DEVICE_ATTRIBUTES } from '../../abm/types';
import { Conversion, resourceEntity } from '../convert';
import { deviceKey, Entities } from '../constants';
import {
  isRecord,
  limitLength,
  readBoolean,
  readString,
  readStringArray,
  readStringOrStrings,
  readTime,
} from '../values';

/** Attributes this converter maps by name; anything else is carried over as it comes. */
const KNOWN_ATTRIBUTES = new Set<string>(ORG_DEVICE_ATTRIBUTES);

/** Printable ASCII without spaces: what a serial number (and so a `_key`) can hold. */
const SERIAL_NUMBER = /^[\x21-\x7E]{1,64}$/;

// Maps, not object literals: a family named `toString` or `constructor` must not find what
// every object inherits.
const FAMILY_CATEGORY = new Map([
  ['Mac', 'endpoint'],
  ['iPhone', 'mobile'],
  ['iPad', 'mobile'],
  ['Watch', 'mobile'],
  ['Vision', 'mobile'],
  ['AppleTV', 'other'],
]);

const FAMILY_PLATFORM = new Map([
  ['Mac', 'darwin'],
  ['iPhone', 'ios'],
  ['iPad', 'ios'],
  ['Watch', 'other'],
  ['Vision', 'other'],
  ['AppleTV', 'other'],
]);

/**
 * The Device class allows a fixed set of statuses. Apple's ASSIGNED and
 * UNASSIGNED (to an MDM server) map onto `assigned` and `ready`; a device
 * released from the organization is `decommissioned`. Apple's raw value stays
 * in `assignmentStatus`.
 */
export function deviceStatus(assignmentStatus: string | undefined, releasedOn: number | undefined) {
  if (releasedOn !== undefined) return 'decommissioned';
  if (assignmentStatus === 'ASSIGNED') return 'assigned';
  if (assignmentStatus === 'UNASSIGNED') return 'ready';
  return assignmentStatus === undefined ? 'unknown' : 'other';
}

/** Every MAC address of the device, lower case, each once. */
function macAddresses(...values: Array<string | string[] | undefined>): string[] | undefined {
  let all: string[] | undefined;
  for (const value of values) {
    if (value === undefined) continue;
    for (const address of typeof value === 'string' ? [value] : value) {
      const lower = address.toLowerCase();
      if (!all) all = [lower];
      else if (!all.includes(lower)) all.push(lower);
    }
  }
  return all;
}

/** A device is keyed by its serial number, or by its id without one (Apple's id is the serial). */
function readSerial(
  resource: Record<string, unknown>,
  attributes: Record<string, unknown>,
): string | undefined {
  return readString(attributes.serialNumber) ?? readString(resource.id);
}

/**
 * The serial number `convertOrgDevice` keys a record by, undefined for a record it skips for want
 * of a usable one.
 */
export function keptSerial(resource: unknown): string | undefined {
  if (!isRecord(resource)) return undefined;
  const serial = readSerial(resource, isRecord(resource.attributes) ? resource.attributes : {});
  return serial !== undefined && SERIAL_NUMBER.test(serial) ? serial : undefined;
}

/**
 * Converts one `orgDevices` resource. Total: any input gives an entity or a
 * reason to skip it, never an exception. `single` is the device's own answer
 * (`GET /v1/orgDevices/{id}`) where it was looked up and gave a release date, the date
 * only that answer carries; it is kept in the raw data beside the list's record
 * (name `orgDevice`) rather than mixed into it. `null` where the device was looked up and
 * gave none: the lookup decides, and a release date in the list's own record is not read
 * (found by a review: it was, so a device Apple's answer showed not released could be
 * `decommissioned`). Undefined where it was not looked up: the list's record decides.
 */
export function convertOrgDevice(resource: unknown, single?: object | null): Conversion {
  if (!isRecord(resource)) return { skipped: 'the device record is not an object' };
  const attributes = isRecord(resource.attributes) ? resource.attributes : {};
  const serial = readSerial(resource, attributes);
  if (!serial) return { skipped: 'the device has no serial number' };
  if (!SERIAL_NUMBER.test(serial)) {
    return { skipped: 'the device serial number is not printable ASCII of at most 64 characters' };
  }

  const family = readString(attributes.productFamily);
  const model = readString(attributes.deviceModel);
  const productType = readString(attributes.productType);
  const assignmentStatus = readString(attributes.status);
  const releaseSource =
    single === null ? undefined : isRecord(single) ? single.attributes : attributes;
  const releasedFromOrgOn = isRecord(releaseSource)
    ? readTime(releaseSource.releasedFromOrgDateTime)
    : undefined;
  const wifiMacAddress = readStringOrStrings(attributes.wifiMacAddress);
  const bluetoothMacAddress = readStringOrStrings(attributes.bluetoothMacAddress);
  const ethernetMacAddress = readStringArray(attributes.ethernetMacAddress);

  // One literal with every property, some undefined (the graph stores no undefined property).
  // Copying out the defined ones grew a new object key by key: measured with the SDK's entity
  // creation and validation, 6.1 KB allocated and 5.3 us a device then, 4.8 KB and 4.0 us now.
  const properties = {
    id: serial,
    name: serial,
    displayName: model ? limitLength(`${model} (${serial})`) : serial,
    category: (family && FAMILY_CATEGORY.get(family)) ?? null,
    make: 'Apple',
    model: model ?? null,
    serial,
    deviceId: serial,
    lastSeenOn: null,
    hardwareVendor: 'Apple',
    hardwareModel: productType,
    hardwareSerial: serial,
    platform: family ? FAMILY_PLATFORM.get(family) : undefined,
    status: deviceStatus(assignmentStatus, releasedFromOrgOn),
    assignmentStatus,
    active: releasedFromOrgOn === undefined ? undefined : false,
    deviceFamily: family,
    productType,
    deviceCapacity: readString(attributes.deviceCapacity),
    color: readString(attributes.color),
    partNumber: readString(attributes.partNumber),
    orderNumber: readString(attributes.orderNumber),
    orderedOn: readTime(attributes.orderDateTime),
    addedToOrgOn: readTime(attributes.addedToOrgDateTime),
    updatedOn: readTime(attributes.updatedDateTime),
    releasedFromOrgOn,
    purchaseSourceType: readString(attributes.purchaseSourceType),
    purchaseSourceId:
      readString(attributes.purchaseSourceId) ?? readString(attributes.purchaseSourceUid),
    imei: readStringArray(attributes.imei),
    meid: readStringArray(attributes.meid),
    eid: readString(attributes.eid),
    wifiMacAddress,
    bluetoothMacAddress,
    ethernetMacAddress,
    macAddress: macAddresses(wifiMacAddress, ethernetMacAddress),
    isMdmMigrationCapable: readBoolean(attributes.isMdmMigrationCapable),
    mdmMigrationStatus: readString(attributes.mdmMigrationStatus),
    mdmMigrationDeadlineOn: readTime(attributes.mdmMigrationDeadlineDateTime),
    _key: deviceKey(serial),
    _type: Entities.DEVICE._type,
    _class: Entities.DEVICE._class,
  };
  return resourceEntity({
    resource,
    attributes,
    knownAttributes: KNOWN_ATTRIBUTES,
    properties,
    what: 'device',
    alsoFrom: isRecord(single) ? { name: 'orgDevice', resource: single } : undefined,
  });
}
