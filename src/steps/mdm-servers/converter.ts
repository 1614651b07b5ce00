import { MDM_SERVER_ATTRIBUTES } from '../../abm/types';
import { Entities, mdmServerKey } from '../constants';
import { Conversion, resourceEntity } from '../convert';
import {
  isRecord,
  readBoolean,
  readNumber,
  readString,
  readStringArray,
  readTime,
} from '../values';

/** Attributes this converter maps by name; anything else is carried over as it comes. */
const KNOWN_ATTRIBUTES = new Set<string>(MDM_SERVER_ATTRIBUTES);

/** Characters an MDM server id may hold (Apple's are 32 upper-case hex characters). */
const SERVER_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** What a converted MDM server contributes to later steps. */
export interface MdmServerSummary {
  id: string;
  key: string;
  name: string;
  status?: string;
}

/** Converts one `mdmServers` resource; total, like the device converter. */
export function convertMdmServer(resource: unknown): Conversion {
  if (!isRecord(resource)) return { skipped: 'the MDM server record is not an object' };
  const id = readString(resource.id);
  if (!id) return { skipped: 'the MDM server has no id' };
  if (!SERVER_ID.test(id)) return { skipped: 'the MDM server id has unexpected characters' };
  // A URL resolves the segments `.` and `..` away, percent-encoded or not: its device list would
  // be asked of another path altogether (found by a review).
  if (/^\.+$/.test(id))
    return { skipped: 'the MDM server id is only dots, which no URL can address' };
  const attributes = isRecord(resource.attributes) ? resource.attributes : {};
  const serverName = readString(attributes.serverName);
  const status = readString(attributes.status);

  const properties = {
    id,
    name: serverName ?? id,
    displayName: serverName ?? id,
    category: ['software'],
    function: ['device-management'],
    serverType: readString(attributes.serverType),
    status,
    active: status === undefined ? undefined : status === 'ACTIVE',
    createdOn: readTime(attributes.createdDateTime),
    updatedOn: readTime(attributes.updatedDateTime),
    defaultProductFamilies: readStringArray(attributes.defaultProductFamilies),
    deviceCount: readNumber(attributes.deviceCount),
    enableMdmDisownFlag: readBoolean(attributes.enableMdmDisownFlag),
    lastConnectedOn: readTime(attributes.lastConnectedDateTime),
    lastConnectedIp: readString(attributes.lastConnectedIp),
    _key: mdmServerKey(id),
    _type: Entities.MDM_SERVER._type,
    _class: Entities.MDM_SERVER._class,
  };
  return resourceEntity({
    resource,
    attributes,
    knownAttributes: KNOWN_ATTRIBUTES,
    properties,
    what: 'MDM server',
  });
}
