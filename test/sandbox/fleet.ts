import { hash32, Rng, unit } from './prng';
import type {
  ActivationLockStatusAttributes,
  AppleCareCoverageResource,
  Fleet,
  MdmServerResource,
  OrgDeviceAttributes,
  OrgDeviceResource,
  ProductFamily,
  ServerStatus,
  ServerType,
} from './types';

export const MAX_DEVICES = 1_000_000;
export const MIN_SERVERS = 4;
export const MAX_SERVERS = 1000;

/** Serials encode a 20-bit index, which bounds the fleet plus the ghost serials of the quirk. */
const INDEX_BITS = 20;
const INDEX_SPACE = 1 << INDEX_BITS;

/** Data dates are pinned so a fleet never depends on when it is generated. */
const EPOCH_START = Date.UTC(2019, 0, 1);
export const FLEET_REFERENCE_TIME = Date.UTC(2025, 5, 1);
const DAY = 86_400_000;

const RELEASED_SHARE = 0.04;
const UNASSIGNED_SHARE = 0.15;
/** The server left without devices (status DELETED) sits at this slot. */
const EMPTY_SERVER_SLOT = 2;

enum Salt {
  Model = 1,
  Released,
  Assign,
  Serial,
  Device,
  Order,
  AppleCare,
  Lock,
  Server,
  Feistel,
  PartNumber,
  Sources,
  Extra,
  Nulls,
}

interface Model {
  family: ProductFamily;
  name: string;
  /** Hardware ids: Wi-Fi model first, cellular model second when it differs. */
  productTypes: [string, string?];
  capacities: string[];
  colors: string[];
  cellular: 'never' | 'some' | 'always';
  ethernet?: boolean;
  /** Older Macs carry the 12-character serial format. */
  legacySerial?: boolean;
  weight: number;
}

const MODELS: Model[] = [
  {
    family: 'iPhone',
    name: 'iPhone 15 Pro',
    productTypes: ['iPhone16,1'],
    capacities: ['128GB', '256GB', '512GB', '1TB'],
    colors: ['NATURAL TITANIUM', 'BLUE TITANIUM', 'WHITE TITANIUM', 'BLACK TITANIUM'],
    cellular: 'always',
    weight: 8,
  },
  {
    family: 'iPhone',
    name: 'iPhone 15',
    productTypes: ['iPhone15,4'],
    capacities: ['128GB', '256GB', '512GB'],
    colors: ['BLACK', 'BLUE', 'GREEN', 'YELLOW', 'PINK'],
    cellular: 'always',
    weight: 8,
  },
  {
    family: 'iPhone',
    name: 'iPhone 14 Pro',
    productTypes: ['iPhone15,2'],
    capacities: ['128GB', '256GB', '512GB', '1TB'],
    colors: ['SPACE BLACK', 'SILVER', 'GOLD', 'DEEP PURPLE'],
    cellular: 'always',
    weight: 6,
  },
  {
    family: 'iPhone',
    name: 'iPhone 13',
    productTypes: ['iPhone14,5'],
    capacities: ['128GB', '256GB', '512GB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'BLUE', 'PINK', 'RED', 'GREEN'],
    cellular: 'always',
    weight: 6,
  },
  {
    family: 'iPhone',
    name: 'iPhone SE (3rd generation)',
    productTypes: ['iPhone14,6'],
    capacities: ['64GB', '128GB', '256GB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'RED'],
    cellular: 'always',
    weight: 4,
  },
  {
    family: 'iPhone',
    name: 'iPhone 16',
    productTypes: ['iPhone17,3'],
    capacities: ['128GB', '256GB', '512GB'],
    colors: ['BLACK', 'WHITE', 'PINK', 'TEAL', 'ULTRAMARINE'],
    cellular: 'always',
    weight: 4,
  },
  {
    family: 'iPad',
    name: 'iPad (10th generation)',
    productTypes: ['iPad13,18', 'iPad13,19'],
    capacities: ['64GB', '256GB'],
    colors: ['BLUE', 'PINK', 'YELLOW', 'SILVER'],
    cellular: 'some',
    weight: 8,
  },
  {
    family: 'iPad',
    name: 'iPad (9th generation)',
    productTypes: ['iPad12,1', 'iPad12,2'],
    capacities: ['64GB', '256GB'],
    colors: ['SPACE GRAY', 'SILVER'],
    cellular: 'some',
    weight: 6,
  },
  {
    family: 'iPad',
    name: 'iPad Air (5th generation)',
    productTypes: ['iPad13,16', 'iPad13,17'],
    capacities: ['64GB', '256GB'],
    colors: ['SPACE GRAY', 'STARLIGHT', 'PINK', 'PURPLE', 'BLUE'],
    cellular: 'some',
    weight: 5,
  },
  {
    family: 'iPad',
    name: 'iPad Pro 11-inch (4th generation)',
    productTypes: ['iPad14,3', 'iPad14,4'],
    capacities: ['128GB', '256GB', '512GB', '1TB', '2TB'],
    colors: ['SPACE GRAY', 'SILVER'],
    cellular: 'some',
    weight: 3,
  },
  {
    family: 'iPad',
    name: 'iPad mini (6th generation)',
    productTypes: ['iPad14,1', 'iPad14,2'],
    capacities: ['64GB', '256GB'],
    colors: ['SPACE GRAY', 'PINK', 'PURPLE', 'STARLIGHT'],
    cellular: 'some',
    weight: 3,
  },
  {
    family: 'Mac',
    name: 'MacBook Pro 14"',
    productTypes: ['MacBookPro18,3'],
    capacities: ['512GB', '1TB', '2TB'],
    colors: ['SPACE GRAY', 'SILVER'],
    cellular: 'never',
    weight: 8,
  },
  {
    family: 'Mac',
    name: 'MacBook Pro 16"',
    productTypes: ['MacBookPro18,1'],
    capacities: ['512GB', '1TB', '2TB'],
    colors: ['SPACE GRAY', 'SILVER'],
    cellular: 'never',
    weight: 4,
  },
  {
    family: 'Mac',
    name: 'MacBook Air 13"',
    productTypes: ['Mac14,2'],
    capacities: ['256GB', '512GB', '1TB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'SPACE GRAY', 'SILVER'],
    cellular: 'never',
    weight: 9,
  },
  {
    family: 'Mac',
    name: 'MacBook Air 15"',
    productTypes: ['Mac14,15'],
    capacities: ['256GB', '512GB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'SPACE GRAY', 'SILVER'],
    cellular: 'never',
    weight: 3,
  },
  {
    family: 'Mac',
    name: 'Mac mini',
    productTypes: ['Macmini9,1'],
    capacities: ['256GB', '512GB'],
    colors: ['SILVER'],
    cellular: 'never',
    ethernet: true,
    weight: 2,
  },
  {
    family: 'Mac',
    name: 'iMac 24"',
    productTypes: ['iMac21,1'],
    capacities: ['256GB', '512GB'],
    colors: ['BLUE', 'GREEN', 'PINK', 'SILVER', 'YELLOW', 'ORANGE', 'PURPLE'],
    cellular: 'never',
    ethernet: true,
    weight: 2,
  },
  {
    family: 'Mac',
    name: 'Mac Studio',
    productTypes: ['Mac13,1'],
    capacities: ['512GB', '1TB'],
    colors: ['SILVER'],
    cellular: 'never',
    ethernet: true,
    weight: 1,
  },
  {
    family: 'Mac',
    name: 'MacBook Pro 13"',
    productTypes: ['MacBookPro16,2'],
    capacities: ['256GB', '512GB', '1TB'],
    colors: ['SPACE GRAY', 'SILVER'],
    cellular: 'never',
    legacySerial: true,
    weight: 2,
  },
  {
    family: 'AppleTV',
    name: 'Apple TV 4K',
    productTypes: ['AppleTV11,1'],
    capacities: ['32GB', '64GB'],
    colors: ['BLACK'],
    cellular: 'never',
    weight: 3,
  },
  {
    family: 'AppleTV',
    name: 'Apple TV HD',
    productTypes: ['AppleTV5,3'],
    capacities: ['32GB'],
    colors: ['BLACK'],
    cellular: 'never',
    weight: 1,
  },
  {
    family: 'Watch',
    name: 'Apple Watch Series 9',
    productTypes: ['Watch7,3', 'Watch7,4'],
    capacities: ['64GB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'SILVER', 'PINK', 'RED'],
    cellular: 'some',
    weight: 2,
  },
  {
    family: 'Watch',
    name: 'Apple Watch SE',
    productTypes: ['Watch6,10', 'Watch6,12'],
    capacities: ['32GB'],
    colors: ['MIDNIGHT', 'STARLIGHT', 'SILVER'],
    cellular: 'some',
    weight: 1,
  },
  {
    family: 'Watch',
    name: 'Apple Watch Ultra 2',
    productTypes: ['Watch7,5'],
    capacities: ['64GB'],
    colors: ['NATURAL'],
    cellular: 'always',
    weight: 1,
  },
  {
    family: 'Vision',
    name: 'Apple Vision Pro',
    productTypes: ['RealityDevice14,1'],
    capacities: ['256GB', '512GB', '1TB'],
    colors: [''],
    cellular: 'never',
    weight: 2,
  },
];

const TOTAL_WEIGHT = MODELS.reduce((sum, m) => sum + m.weight, 0);
const CUMULATIVE_WEIGHT = MODELS.reduce<number[]>((acc, m) => {
  acc.push((acc.length ? acc[acc.length - 1] : 0) + m.weight);
  return acc;
}, []);

/** 32 symbols: digits and letters without I, O, S, U, so 5 bits per character. */
const SERIAL_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTVWXYZ';
const LEGACY_SERIAL_PREFIXES = ['C02', 'C02', 'FVF', 'C1M'];
const APPLE_OUIS = [
  'F0:18:98',
  'A4:83:E7',
  '3C:22:FB',
  'BC:D0:74',
  'F4:D4:88',
  '8C:85:90',
  '14:7D:DA',
  '60:F8:1D',
];
const PART_REGIONS = ['LL/A', 'LL/A', 'LL/A', 'B/A', 'D/A', 'ZP/A', 'J/A'];

export function iso(time: number, withMillis: boolean): string {
  // What new Date(time).toISOString() gives (without the milliseconds unless asked), written
  // out by hand: a page of 1,000 devices formats some 6,000 of these.
  const days = Math.floor(time / DAY);
  const ms = time - days * DAY;
  // Days to a civil date (Howard Hinnant's days_from_civil, inverted), for years 0 to 9999.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const seconds = Math.floor(ms / 1000);
  const text =
    `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T` +
    `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`;
  return withMillis ? `${text}.${pad(ms % 1000, 3)}Z` : `${text}Z`;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Keyed Feistel network on 20 bits so serials look random yet decode to their index. */
function feistel(seed: number, value: number, inverse: boolean): number {
  let left = value >>> 10;
  let right = value & 0x3ff;
  const rounds = [0, 1, 2, 3];
  if (!inverse) {
    for (const round of rounds) {
      const next = left ^ (hash32(seed, right, Salt.Feistel * 8 + round) & 0x3ff);
      left = right;
      right = next;
    }
  } else {
    for (const round of rounds.reverse()) {
      const previous = right ^ (hash32(seed, left, Salt.Feistel * 8 + round) & 0x3ff);
      right = left;
      left = previous;
    }
  }
  return (left << 10) | right;
}

function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function macAddress(rng: Rng): string {
  return `${rng.pick(APPLE_OUIS)}:${rng.hex(2)}:${rng.hex(2)}:${rng.hex(2)}`;
}

interface ServerPlan {
  name: string;
  type: ServerType;
  status: ServerStatus;
}

function serverPlan(slot: number): ServerPlan {
  const fixed: ServerPlan[] = [
    { name: 'Jamf Pro', type: 'MDM', status: 'ACTIVE' },
    { name: 'Devices Added by Apple Configurator', type: 'APPLE_CONFIGURATOR', status: 'ACTIVE' },
    { name: 'Legacy MDM (retired)', type: 'MDM', status: 'DELETED' },
    { name: 'Apple Business Essentials', type: 'APPLE_MDM', status: 'INACTIVE' },
    { name: 'Microsoft Intune', type: 'MDM', status: 'ACTIVE' },
    { name: 'Kandji', type: 'MDM', status: 'ACTIVE' },
    { name: 'Mosyle Manager', type: 'MDM', status: 'INACTIVE' },
  ];
  if (slot < fixed.length) return fixed[slot];
  return {
    name: `MDM Server ${String(slot + 1).padStart(3, '0')}`,
    type: 'MDM',
    status: slot % 5 === 0 ? 'INACTIVE' : 'ACTIVE',
  };
}

export interface FleetOptions {
  seed: number;
  devices: number;
  servers: number;
  baseUrl: string;
  /** Serials of devices outside the fleet appended to the first server's id list. */
  unknownAssignments?: number;
  /** How many of the first server's devices are appended to the second server's id list too. */
  listedTwice?: number;
}

export function clampDevices(devices: number): number {
  if (!Number.isFinite(devices)) return 2000;
  return Math.min(MAX_DEVICES, Math.max(1, Math.floor(devices)));
}

export function clampServers(servers: number): number {
  if (!Number.isFinite(servers)) return 6;
  return Math.min(MAX_SERVERS, Math.max(MIN_SERVERS, Math.floor(servers)));
}

export class GeneratedFleet implements Fleet {
  readonly seed: number;
  readonly deviceCount: number;
  readonly servers: MdmServerResource[];
  readonly unreleasedCount: number;
  /** Ghost serials (the assignmentsToUnknownDevices quirk), all on the first server. */
  readonly unknownSerials: string[];
  /**
   * Serials of the first server's first devices, appended to the second server's id list as well
   * (the devicesListedTwice quirk): the lists of a device moved between servers during a run.
   */
  readonly listedTwiceSerials: string[];

  private readonly baseUrl: string;
  private readonly serverIds: string[];
  private readonly slotById = new Map<string, number>();
  private readonly eligibleSlots: number[];
  private readonly serverCounts: number[];
  private readonly purchaseSources: { apple: string[]; reseller: string[] };
  /**
   * Device indices grouped by server slot (CSR layout): slot s holds
   * `members[offsets[s]] .. members[offsets[s + 1] - 1]`, ascending. Built on first use, so a
   * fleet nobody asks for per-server lists pays nothing; about 3.3 MB at 1,000,000 devices.
   */
  private serverIndex?: { offsets: Uint32Array; members: Uint32Array };

  constructor(options: FleetOptions) {
    this.seed = options.seed;
    this.deviceCount = clampDevices(options.devices);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const serverCount = clampServers(options.servers);

    this.serverIds = [];
    for (let slot = 0; slot < serverCount; slot++) {
      const rng = new Rng(this.seed, slot, Salt.Server);
      let id = rng.hex(32);
      while (this.slotById.has(id)) id = rng.hex(32);
      this.serverIds.push(id);
      this.slotById.set(id, slot);
    }
    this.eligibleSlots = [];
    for (let slot = 0; slot < serverCount; slot++) {
      if (slot !== EMPTY_SERVER_SLOT) this.eligibleSlots.push(slot);
    }

    const sources = new Rng(this.seed, 0, Salt.Sources);
    this.purchaseSources = {
      apple: [0, 1, 2].map(() => String(1_000_000 + sources.int(8_999_999))),
      reseller: [0, 1, 2, 3].map(() => sources.hex(7)),
    };

    // One pass over cheap hashes gives the true per-server counts the resources report.
    this.serverCounts = new Array<number>(serverCount).fill(0);
    let released = 0;
    for (let index = 0; index < this.deviceCount; index++) {
      if (this.isReleased(index)) {
        released++;
        continue;
      }
      const slot = this.serverSlotOfDevice(index);
      if (slot !== null) this.serverCounts[slot]++;
    }
    this.unreleasedCount = this.deviceCount - released;

    const ghosts = Math.max(
      0,
      Math.min(Math.floor(options.unknownAssignments ?? 0), INDEX_SPACE - this.deviceCount),
    );
    this.unknownSerials = [];
    for (let k = 0; k < ghosts; k++) this.unknownSerials.push(this.serialOf(this.deviceCount + k));
    const twice = Math.max(0, Math.floor(options.listedTwice ?? 0));
    this.listedTwiceSerials =
      twice > 0
        ? Array.from(this.serverMembers(0).subarray(0, twice), (index) => this.serialOf(index))
        : [];

    this.servers = this.serverIds.map((_, slot) => this.buildServer(slot));
  }

  isReleased(index: number): boolean {
    return unit(this.seed, index, Salt.Released) < RELEASED_SHARE;
  }

  /** Server slot of a device, or null when unassigned (always null once released). */
  serverSlotOfDevice(index: number): number | null {
    if (this.isReleased(index)) return null;
    const h = hash32(this.seed, index, Salt.Assign);
    if (h / 0x100000000 < UNASSIGNED_SHARE) return null;
    return this.eligibleSlots[
      hash32(this.seed, index, Salt.Assign + 100) % this.eligibleSlots.length
    ];
  }

  serverIdOfDevice(index: number): string | null {
    this.checkIndex(index);
    const slot = this.serverSlotOfDevice(index);
    return slot === null ? null : this.serverIds[slot];
  }

  serverSlot(serverId: string): number | undefined {
    return this.slotById.get(serverId);
  }

  serverIdAt(slot: number): string {
    return this.serverIds[slot];
  }

  /** Devices really assigned to the server (ghost serials and devices listed twice excluded). */
  serverRealCount(slot: number): number {
    return this.serverCounts[slot];
  }

  *serverDeviceIndices(serverId: string): Iterable<number> {
    const slot = this.slotById.get(serverId);
    if (slot === undefined) return;
    yield* this.serverMembers(slot);
  }

  /**
   * Indices of the devices assigned to the server slot, ascending. The first call builds the
   * index for every server in one pass over the fleet; later calls are a subarray view.
   */
  serverMembers(slot: number): Uint32Array {
    if (!this.serverIndex) {
      const slots = this.serverCounts.length;
      const offsets = new Uint32Array(slots + 1);
      for (let s = 0; s < slots; s++) offsets[s + 1] = offsets[s] + this.serverCounts[s];
      const members = new Uint32Array(offsets[slots]);
      const fill = offsets.slice(0, slots);
      for (let index = 0; index < this.deviceCount; index++) {
        const s = this.serverSlotOfDevice(index);
        if (s !== null) members[fill[s]++] = index;
      }
      this.serverIndex = { offsets, members };
    }
    const { offsets, members } = this.serverIndex;
    return members.subarray(offsets[slot], offsets[slot + 1]);
  }

  private modelOf(index: number): Model {
    const target = (hash32(this.seed, index, Salt.Model) / 0x100000000) * TOTAL_WEIGHT;
    for (let i = 0; i < MODELS.length; i++) {
      if (target < CUMULATIVE_WEIGHT[i]) return MODELS[i];
    }
    return MODELS[MODELS.length - 1];
  }

  /** Works for any index in the 20-bit space, so ghost serials share the format. */
  serialOf(index: number): string {
    const model = this.modelOf(index);
    const rng = new Rng(this.seed, index, Salt.Serial);
    let code = feistel(this.seed, index, false);
    let tail = '';
    for (let i = 0; i < INDEX_BITS / 5; i++) {
      tail = SERIAL_ALPHABET[code & 31] + tail;
      code >>>= 5;
    }
    let head = model.legacySerial ? rng.pick(LEGACY_SERIAL_PREFIXES) : '';
    const headLength = model.legacySerial ? 8 : 6;
    while (head.length < headLength) head += SERIAL_ALPHABET[rng.int(32)];
    return head + tail;
  }

  deviceIndexBySerial(serial: string): number | undefined {
    if (typeof serial !== 'string' || (serial.length !== 10 && serial.length !== 12))
      return undefined;
    let code = 0;
    for (const ch of serial.slice(-4)) {
      const digit = SERIAL_ALPHABET.indexOf(ch);
      if (digit < 0) return undefined;
      code = (code << 5) | digit;
    }
    const index = feistel(this.seed, code, true);
    if (index >= this.deviceCount) return undefined;
    return this.serialOf(index) === serial ? index : undefined;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.deviceCount) {
      throw new RangeError(`device index ${index} outside 0..${this.deviceCount - 1}`);
    }
  }

  device(index: number): OrgDeviceResource {
    this.checkIndex(index);
    const serial = this.serialOf(index);
    const model = this.modelOf(index);
    const rng = new Rng(this.seed, index, Salt.Device);
    const released = this.isReleased(index);
    const slot = this.serverSlotOfDevice(index);

    // Neighbouring indices share an order, as devices arrive in batches.
    const orderGroup = Math.floor(index / 20);
    const order = new Rng(this.seed, orderGroup, Salt.Order);
    const sourceRoll = order.float();
    const sourceType =
      sourceRoll < 0.55 ? 'APPLE' : sourceRoll < 0.9 ? 'RESELLER' : 'MANUALLY_ADDED';
    const orderTime =
      EPOCH_START + Math.floor(order.float() * (FLEET_REFERENCE_TIME - EPOCH_START - 400 * DAY));
    const orderNumber =
      sourceType === 'APPLE'
        ? order.digits(10)
        : `PO-${new Date(orderTime).getUTCFullYear()}-${order.digits(5)}`;
    const sourceId =
      sourceType === 'APPLE'
        ? order.pick(this.purchaseSources.apple)
        : order.pick(this.purchaseSources.reseller);

    const withMillis = rng.chance(0.5);
    const addedTime = orderTime + (1 + rng.int(10)) * DAY + rng.int(DAY);
    let updatedTime = Math.min(
      FLEET_REFERENCE_TIME - DAY,
      addedTime + rng.int(300) * DAY + rng.int(DAY),
    );
    const releasedTime = released ? updatedTime + rng.int(30) * DAY + rng.int(DAY) : null;
    if (releasedTime !== null) updatedTime = releasedTime;

    const cellular = model.cellular === 'always' || (model.cellular === 'some' && rng.chance(0.35));
    const productType =
      cellular && model.productTypes[1] ? model.productTypes[1] : model.productTypes[0];
    const capacityIndex = rng.int(model.capacities.length);
    const colorIndex = rng.int(model.colors.length);
    const color = rng.chance(0.05) ? '' : model.colors[colorIndex];
    const part = new Rng(
      0,
      MODELS.indexOf(model) * 1000 + capacityIndex * 50 + colorIndex,
      Salt.PartNumber,
    );
    const partNumber =
      model.family === 'Mac' && rng.chance(0.2)
        ? `Z${part.hex(3)}000${part.hex(2)}`
        : `M${SERIAL_ALPHABET[10 + part.int(22)]}${part.hex(2)}${part.digits(1)}${part.pick(PART_REGIONS)}`;

    const attributes: OrgDeviceAttributes = {
      serialNumber: serial,
      addedToOrgDateTime: iso(addedTime, withMillis),
      updatedDateTime: iso(updatedTime, withMillis),
      deviceModel: model.name,
      productFamily: model.family,
      productType,
      deviceCapacity: model.capacities[capacityIndex],
      partNumber,
      color,
      status: slot === null ? 'UNASSIGNED' : 'ASSIGNED',
      purchaseSourceType: sourceType,
      isMdmMigrationCapable: false,
    };
    if (sourceType !== 'MANUALLY_ADDED') {
      attributes.orderNumber = orderNumber;
      attributes.orderDateTime = iso(orderTime - (orderTime % DAY) + 7 * 3_600_000, false);
      if (rng.chance(0.1)) attributes.purchaseSourceUid = sourceId;
      else attributes.purchaseSourceId = sourceId;
    }

    if (cellular) {
      const imei = (): string => {
        const body = `35${rng.digits(12)}`;
        return body + luhnDigit(body);
      };
      const first = imei();
      attributes.imei = model.family === 'iPhone' && rng.chance(0.5) ? [first, imei()] : [first];
      attributes.meid = [first.slice(0, 14)];
      attributes.eid = `89049032${rng.digits(24)}`;
    } else if (rng.chance(0.8)) {
      attributes.imei = [];
      attributes.meid = [];
    }

    const wifi = macAddress(rng);
    const bluetooth = macAddress(rng);
    // A few percent arrive as arrays, which the API documents as plain strings.
    attributes.wifiMacAddress = rng.chance(0.03) ? [wifi] : wifi;
    attributes.bluetoothMacAddress = rng.chance(0.03) ? [bluetooth, macAddress(rng)] : bluetooth;
    if (model.ethernet) attributes.ethernetMacAddress = [macAddress(rng)];

    if (
      slot !== null &&
      (model.family === 'iPhone' || model.family === 'iPad' || model.family === 'Mac') &&
      rng.chance(0.6)
    ) {
      attributes.isMdmMigrationCapable = true;
      if (rng.chance(0.08)) {
        attributes.mdmMigrationStatus = rng.pick([
          'REQUESTED',
          'STARTED',
          'SUCCESS',
          'FAILED',
        ] as const);
        attributes.mdmMigrationDeadlineDateTime = iso(updatedTime + 14 * DAY, withMillis);
      } else {
        attributes.mdmMigrationStatus = null;
        attributes.mdmMigrationDeadlineDateTime = null;
      }
    }

    if (released) attributes.releasedFromOrgDateTime = iso(releasedTime as number, withMillis);

    const self = `${this.baseUrl}/v1/orgDevices/${serial}`;
    return {
      type: 'orgDevices',
      id: serial,
      attributes,
      relationships: {
        assignedServer: {
          links: {
            self: `${self}/relationships/assignedServer`,
            related: `${self}/assignedServer`,
          },
        },
        appleCareCoverage: { links: { self: `${self}/appleCareCoverage` } },
        activationLockStatus: { links: { self: `${self}/activationLockStatus` } },
      },
      links: { self },
    };
  }

  appleCareCoverage(index: number): AppleCareCoverageResource[] {
    const device = this.device(index);
    const rng = new Rng(this.seed, index, Salt.AppleCare);
    const start = Date.parse(
      device.attributes.orderDateTime ?? device.attributes.addedToOrgDateTime,
    );
    const serial = device.id;
    const out: AppleCareCoverageResource[] = [];
    const statusAt = (end: number | null): 'ACTIVE' | 'INACTIVE' =>
      end === null || end > FLEET_REFERENCE_TIME ? 'ACTIVE' : 'INACTIVE';
    const push = (attributes: AppleCareCoverageResource['attributes']): void => {
      out.push({
        type: 'appleCareCoverage',
        id: `${serial}${['L', 'P', 'S', 'B'][out.length]}${rng.hex(6)}`,
        attributes,
      });
    };
    if (device.attributes.purchaseSourceType !== 'MANUALLY_ADDED' && rng.chance(0.85)) {
      const end = start + 365 * DAY;
      push({
        status: statusAt(end),
        paymentType: 'NONE',
        description: 'Limited Warranty',
        startDateTime: iso(start, false),
        endDateTime: iso(end, false),
        isRenewable: false,
        isCanceled: false,
        contractCancelDateTime: null,
        agreementNumber: null,
      });
    }
    const roll = rng.float();
    if (roll < 0.3) {
      const end = start + 3 * 365 * DAY;
      push({
        status: statusAt(end),
        paymentType: 'PAID_UP_FRONT',
        description: 'AppleCare+',
        startDateTime: iso(start, false),
        endDateTime: iso(end, false),
        isRenewable: false,
        isCanceled: false,
        contractCancelDateTime: null,
        agreementNumber: rng.digits(10),
      });
    } else if (roll < 0.45) {
      const canceled = rng.chance(0.25);
      const cancelTime = start + (30 + rng.int(600)) * DAY;
      push({
        status: canceled && cancelTime < FLEET_REFERENCE_TIME ? 'INACTIVE' : 'ACTIVE',
        paymentType: 'SUBSCRIPTION',
        description: 'AppleCare+ (Monthly)',
        startDateTime: iso(start, true),
        endDateTime: canceled ? iso(cancelTime, true) : null,
        isRenewable: !canceled,
        isCanceled: canceled,
        contractCancelDateTime: canceled ? iso(cancelTime, true) : null,
        agreementNumber: rng.chance(0.5) ? rng.digits(10) : null,
      });
    }
    if (this.serverSlotOfDevice(index) === 3 && rng.chance(0.7)) {
      push({
        status: 'ACTIVE',
        paymentType: 'ABE_SUBSCRIPTION',
        description: 'AppleCare+ for Business Essentials',
        startDateTime: iso(start + DAY, false),
        endDateTime: null,
        isRenewable: true,
        isCanceled: false,
        contractCancelDateTime: null,
        agreementNumber: null,
      });
    }
    return out;
  }

  activationLockStatus(index: number): ActivationLockStatusAttributes {
    this.checkIndex(index);
    const model = this.modelOf(index);
    const rng = new Rng(this.seed, index, Salt.Lock);
    if (model.family === 'AppleTV' || !rng.chance(this.isReleased(index) ? 0.5 : 0.2)) {
      return { isLocked: false, lockType: 'NONE' };
    }
    return {
      isLocked: true,
      lockType: this.serverSlotOfDevice(index) !== null && rng.chance(0.7) ? 'MDM' : 'USER',
    };
  }

  /**
   * Attributes the reference does not document (the `extraAttributes` quirk), of several JSON
   * types, so collectors prove they ignore what they do not know.
   */
  extraDeviceAttributes(index: number): Record<string, unknown> {
    this.checkIndex(index);
    const rng = new Rng(this.seed, index, Salt.Extra);
    return {
      assetTag: rng.chance(0.6) ? `AT-${rng.digits(6)}` : null,
      supportsSatellite: rng.chance(0.3),
      deviceLocation: rng.chance(0.5)
        ? { building: `B${1 + rng.int(9)}`, floor: rng.int(12) }
        : null,
      capabilities: rng.chance(0.5) ? ['ESIM', 'MANAGED_APPLE_ID'] : [],
    };
  }

  /**
   * The attributes served as null (the `nullAttributes` quirk), picked from `names`: none for
   * about three devices in four, else one to four of them (a pick may repeat).
   */
  nulledDeviceAttributes(index: number, names: readonly string[]): string[] {
    this.checkIndex(index);
    return pickNulls(new Rng(this.seed, index, Salt.Nulls), names);
  }

  nulledServerAttributes(slot: number, names: readonly string[]): string[] {
    return pickNulls(new Rng(this.seed, slot + 30_000, Salt.Nulls), names);
  }

  extraServerAttributes(slot: number): Record<string, unknown> {
    const rng = new Rng(this.seed, slot + 20_000, Salt.Extra);
    return {
      mdmVendorName: serverPlan(slot).name,
      tokenExpirationDateTime: iso(FLEET_REFERENCE_TIME + (30 + rng.int(300)) * DAY, true),
      supportedCapabilities: ['DEVICE_ASSIGNMENT', 'MIGRATION'],
      pendingDeviceCount: rng.int(50),
    };
  }

  private buildServer(slot: number): MdmServerResource {
    const plan = serverPlan(slot);
    const rng = new Rng(this.seed, slot + 10_000, Salt.Server);
    const created = EPOCH_START + rng.int(700) * DAY + rng.int(DAY);
    const updated = Math.min(
      FLEET_REFERENCE_TIME - DAY,
      created + rng.int(1500) * DAY + rng.int(DAY),
    );
    const connects = plan.type !== 'APPLE_CONFIGURATOR' && plan.status !== 'DELETED';
    const lastConnected = connects
      ? plan.status === 'ACTIVE'
        ? FLEET_REFERENCE_TIME - rng.int(3 * 3_600_000)
        : updated - rng.int(30) * DAY
      : null;
    const families =
      plan.type === 'APPLE_CONFIGURATOR'
        ? []
        : plan.type === 'APPLE_MDM'
          ? ['IPHONE', 'IPAD', 'MAC']
          : [['IPHONE', 'IPAD'], ['MAC'], ['IPHONE', 'IPAD', 'MAC'], ['APPLETV']][slot % 4];
    const id = this.serverIds[slot];
    const self = `${this.baseUrl}/v1/mdmServers/${id}`;
    return {
      type: 'mdmServers',
      id,
      attributes: {
        serverName: plan.name,
        serverType: plan.type,
        createdDateTime: iso(created, true),
        updatedDateTime: iso(updated, slot % 2 === 0),
        status: plan.status,
        defaultProductFamilies: families,
        deviceCount: this.serverCounts[slot],
        enableMdmDisownFlag: plan.type === 'MDM' && rng.chance(0.5),
        lastConnectedDateTime: lastConnected === null ? null : iso(lastConnected, true),
        lastConnectedIp: connects
          ? `${rng.chance(0.5) ? '203.0.113' : '198.51.100'}.${1 + rng.int(254)}`
          : null,
      },
      relationships: { devices: { links: { self: `${self}/relationships/devices` } } },
      links: { self },
    };
  }
}

function pickNulls(rng: Rng, names: readonly string[]): string[] {
  if (!rng.chance(0.25)) return [];
  return Array.from({ length: 1 + rng.int(4) }, () => rng.pick(names));
}
