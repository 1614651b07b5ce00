/**
 * Total readers for values from the API. Apple treats every attribute as
 * optional and nullable and adds new ones at will, so nothing here trusts a
 * declared type: a value of the wrong shape reads as `undefined`.
 */

/** Longest string kept on an entity; longer values are cut (JupiterOne limits property size). */
export const MAX_STRING_LENGTH = 4096;
const MAX_ARRAY_LENGTH = 256;

export function readString(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : limitLength(trimmed);
}

export function limitLength(text: string): string {
  return text.length > MAX_STRING_LENGTH ? text.slice(0, MAX_STRING_LENGTH) : text;
}

export function readBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

export function readNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A string array; a lone string (as Apple sometimes sends) becomes a one-element array. */
export function readStringArray(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    const one = readString(value);
    return one === undefined ? undefined : [one];
  }
  // One pass and one array (none for an empty list, the imei and meid of a Mac): a device has
  // five of these lists, and a page a thousand devices.
  let strings: string[] | undefined;
  const end = Math.min(value.length, MAX_ARRAY_LENGTH);
  for (let i = 0; i < end; i++) {
    const item = readString(value[i]);
    if (item !== undefined) (strings ??= []).push(item);
  }
  return strings;
}

/** One value, or several: a one-element array reads as its element. */
export function readStringOrStrings(value: unknown): string | string[] | undefined {
  if (Array.isArray(value) && value.length === 1) return readString(value[0]);
  const strings = readStringArray(value);
  if (!strings) return undefined;
  return strings.length === 1 ? strings[0] : strings;
}

const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 time as epoch milliseconds; anything else (including "1" or "soon") reads as undefined. */
export function readTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const fast = readUtcSeconds(value);
  if (fast !== undefined) return fast;
  const text = readString(value);
  if (!text || !ISO_DATE_TIME.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * The form Apple sends almost every time, `2024-05-01T12:30:00Z` (or with
 * `.123` milliseconds), read without a regular expression or Date.parse: a
 * device has half a dozen of these. Anything else is left to the general path
 * (undefined here). Gives what Date.parse gives for the same text.
 */
function readUtcSeconds(text: string): number | undefined {
  const length = text.length;
  if ((length !== 20 && length !== 24) || text.charCodeAt(length - 1) !== 90 /* Z */) {
    return undefined;
  }
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 /* T */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    (length === 24 && text.charCodeAt(19) !== 46) /* . */
  ) {
    return undefined;
  }
  // Years below 1000 go the general way: Date.UTC reads 0 to 99 as 1900 to 1999.
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const millisecond = length === 24 ? digits(text, 20, 3) : 0;
  if (
    year < 1000 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 31 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    millisecond < 0
  ) {
    return undefined;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, millisecond);
}

/** The number written by `count` decimal digits at `start`, or -1 if any is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

export type PrimitiveProperty = string | number | boolean | string[] | number[] | boolean[];

const PROPERTY_NAME = /^[a-zA-Z][a-zA-Z0-9]{0,63}$/;
const MAX_EXTRA_PROPERTIES = 50;

/**
 * Attributes Apple added after this code was written, carried over as they
 * come so the graph has every attribute the API gives: scalars and arrays of
 * scalars only, under names the graph accepts, `...DateTime` renamed to
 * `...On` as epoch milliseconds like the known ones. Unknown attributes never
 * take the name of a property the converter has, whether it set it or left it
 * undefined: those are its reading of the documented attributes, worked out
 * together, which an attribute of the same name could contradict (found by
 * reviews: a `releasedFromOrgOn` on a device whose status said `ready`, a
 * `deviceFamily` of `Mac` without the category a Mac has). The raw data keeps it.
 */
export function extraProperties(
  attributes: Record<string, unknown>,
  known: ReadonlySet<string>,
  taken: Readonly<Record<string, unknown>>,
): Record<string, PrimitiveProperty> {
  const extras: Record<string, PrimitiveProperty> = {};
  let count = 0;
  for (const name in attributes) {
    if (count >= MAX_EXTRA_PROPERTIES) break;
    if (known.has(name) || !hasOwn(attributes, name) || !PROPERTY_NAME.test(name)) continue;
    const value = attributes[name];
    let property = name;
    let converted: PrimitiveProperty | undefined;
    if (name.endsWith('DateTime') && name.length > 'DateTime'.length) {
      property = `${name.slice(0, -'DateTime'.length)}On`;
      converted = readTime(value);
    } else {
      converted = readPrimitive(value);
    }
    if (converted === undefined || hasOwn(extras, property)) continue;
    if (hasOwn(taken, property)) continue;
    // An own `toString` or `hasOwnProperty` on the entity would break whatever calls it there.
    if (property in Object.prototype || property === 'toJSON') continue;
    extras[property] = converted;
    count += 1;
  }
  return extras;
}

function readPrimitive(value: unknown): PrimitiveProperty | undefined {
  if (typeof value === 'string') return readString(value);
  if (typeof value === 'number') return readNumber(value);
  if (typeof value === 'boolean') return value;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const items = value.slice(0, MAX_ARRAY_LENGTH);
  if (items.every((v) => typeof v === 'string')) return readStringArray(items);
  if (items.every((v) => typeof v === 'number' && Number.isFinite(v))) return items as number[];
  if (items.every((v) => typeof v === 'boolean')) return items as boolean[];
  return undefined;
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Drops undefined values (a record's raw data, the organization entity). The
 * device and MDM server converters leave theirs in instead: the graph stores
 * none, and a copy of some forty properties per record costs more than it saves.
 */
export function compact<T extends Record<string, unknown>>(object: T): T {
  // A copy, not `delete`: deleting keys turns an object into a slow dictionary-mode object,
  // which every later spread, validation and JSON write pays for.
  // `for...in` over an object literal reads V8's cached key list: twice as fast as Object.keys.
  const kept: Record<string, unknown> = {};
  for (const key in object) {
    const value = object[key];
    if (value !== undefined) kept[key] = value;
  }
  return kept as T;
}
