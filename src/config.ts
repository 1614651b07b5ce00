import { KeyObject } from 'crypto';
import {
  IntegrationInstanceConfig,
  IntegrationInstanceConfigFieldMap,
  IntegrationValidationError,
} from '@jupiterone/integration-sdk-core';

import { loadPrivateKey } from './abm/key';
import { redactSecrets } from './abm/redact';
import { isLoopbackHost } from './loopback';

/**
 * The instance configuration, as entered in the integrations UI or loaded from
 * the environment (`clientId` <- `CLIENT_ID`, ...). Field names are part of the
 * project's contract: other tools depend on them.
 */
export interface IntegrationConfig extends IntegrationInstanceConfig {
  clientId: string;
  keyId: string;
  privateKey: string;
  apiBaseUrl?: string;
  tokenUrl?: string;
  /** Optional organization details: the ABM API has no endpoint that returns them. */
  organizationName?: string;
  organizationId?: string;
  organizationEmail?: string;
  organizationPhone?: string;
  organizationAddress?: string;
  adminId?: string;
  /** Upper bound, in seconds, on the time one run may lose to failed attempts and waiting to retry. */
  retryBudgetSeconds?: string;
  /**
   * Look up every device the list shows as UNASSIGNED (or without a status) on its own, to learn
   * whether and when it was released from the organization (the list does not
   * say). One request per such device; off by default.
   */
  checkReleasedDevices?: boolean | string;
}

export const instanceConfigFields: IntegrationInstanceConfigFieldMap<IntegrationConfig> = {
  clientId: { type: 'string' },
  keyId: { type: 'string' },
  privateKey: { type: 'string', mask: true },
  apiBaseUrl: { type: 'string', optional: true },
  tokenUrl: { type: 'string', optional: true },
  organizationName: { type: 'string', optional: true },
  organizationId: { type: 'string', optional: true },
  organizationEmail: { type: 'string', optional: true },
  organizationPhone: { type: 'string', optional: true },
  organizationAddress: { type: 'string', optional: true },
  adminId: { type: 'string', optional: true },
  retryBudgetSeconds: { type: 'string', optional: true },
  checkReleasedDevices: { type: 'boolean', optional: true },
};

export type AccountKind = 'business' | 'school';

export interface OrganizationDetails {
  name?: string;
  id?: string;
  email?: string;
  phone?: string;
  address?: string;
  adminId?: string;
}

/** The configuration after parsing: every value checked, every default applied. */
export interface AbmConfig {
  clientId: string;
  keyId: string;
  privateKey: KeyObject;
  kind: AccountKind;
  scope: 'business.api' | 'school.api';
  /** API origin without `/v1` and without a trailing slash. */
  apiBaseUrl: string;
  tokenUrl: string;
  organization: OrganizationDetails;
  retryBudgetMs: number;
  checkReleasedDevices: boolean;
}

export const DEFAULT_TOKEN_URL = 'https://account.apple.com/auth/oauth2/token';
export const DEFAULT_RETRY_BUDGET_SECONDS = 1800;
/** The most a run may spend on retries: a day. */
export const MAX_RETRY_BUDGET_SECONDS = 86_400;

const ACCOUNT_KINDS: Record<string, { kind: AccountKind; scope: AbmConfig['scope']; api: string }> =
  {
    BUSINESSAPI: { kind: 'business', scope: 'business.api', api: 'https://api-business.apple.com' },
    SCHOOLAPI: { kind: 'school', scope: 'school.api', api: 'https://api-school.apple.com' },
  };

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const CLIENT_ID_PATTERN = new RegExp(`^(BUSINESSAPI|SCHOOLAPI)\\.${UUID}$`);
const KEY_ID_PATTERN = new RegExp(`^${UUID}$`);

/** The environment variable each field is read from when the collector runs locally (`npm start`). */
export const FIELD_ENV: Record<keyof IntegrationConfig & string, string> = {
  clientId: 'CLIENT_ID',
  keyId: 'KEY_ID',
  privateKey: 'PRIVATE_KEY',
  apiBaseUrl: 'API_BASE_URL',
  tokenUrl: 'TOKEN_URL',
  organizationName: 'ORGANIZATION_NAME',
  organizationId: 'ORGANIZATION_ID',
  organizationEmail: 'ORGANIZATION_EMAIL',
  organizationPhone: 'ORGANIZATION_PHONE',
  organizationAddress: 'ORGANIZATION_ADDRESS',
  adminId: 'ADMIN_ID',
  retryBudgetSeconds: 'RETRY_BUDGET_SECONDS',
  checkReleasedDevices: 'CHECK_RELEASED_DEVICES',
};

function describeField(field: keyof IntegrationConfig & string): string {
  return `${field} (${FIELD_ENV[field]})`;
}

/**
 * A field's value as trimmed text without surrounding quotes, undefined when unset or blank: every
 * field reads `""` as unset alike, as Docker's --env-file leaves `FIELD=""`. A value that is not
 * text, a number or a flag (an object or a list, from a hand-written instance config) is refused by
 * name, not stored as "[object Object]".
 */
function fieldText(
  config: Partial<IntegrationConfig>,
  field: keyof IntegrationConfig & string,
): string | undefined {
  const value: unknown = config[field];
  if (value === undefined || value === null) return undefined;
  refuseNonScalar(field, value);
  const text = stripQuotes(String(value).trim());
  return text === '' ? undefined : text;
}

/** Refuses, by name, a value that is not text, a number or a flag (an object, a list). */
function refuseNonScalar(field: keyof IntegrationConfig & string, value: unknown): void {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return;
  const kind = Array.isArray(value)
    ? 'a list'
    : typeof value === 'object'
      ? 'an object'
      : `a ${typeof value}`;
  throw new IntegrationValidationError(
    `${describeField(field)} is ${kind}, not text: enter it as a plain value.`,
  );
}

/** Where an account of each kind is managed, as messages name it. */
export const MANAGER: Record<AccountKind, string> = {
  business: 'Apple Business Manager',
  school: 'Apple School Manager',
};
/** The same, before the Client ID has said which. */
const EITHER_MANAGER = 'Apple Business Manager (or Apple School Manager)';

/** The UUID `.env.example` holds where the Client ID's and the Key ID's go. */
const PLACEHOLDER_UUID = '00000000-0000-0000-0000-000000000000';

function required(
  config: Partial<IntegrationConfig>,
  field: 'clientId' | 'keyId',
  manager = EITHER_MANAGER,
): string {
  const value = fieldText(config, field);
  if (!value) {
    throw new IntegrationValidationError(
      `Missing ${describeField(field)}: copy it from the API account's page in ${manager} (Preferences > API).`,
    );
  }
  if (value.includes(PLACEHOLDER_UUID)) {
    throw new IntegrationValidationError(
      `${describeField(field)} is still the placeholder of .env.example: copy it from the API account's page in ${manager} (Preferences > API).`,
    );
  }
  return value;
}

/** Longest value an error message repeats; configuration values are all much shorter. */
const MAX_SHOWN_LENGTH = 100;
/** Text that looks like key material: a PEM armour line, or a long unbroken run of base64. */
const KEY_MATERIAL = /-----|PRIVATE KEY|[A-Za-z0-9+/=]{60,}/;

/**
 * A configuration value as an error message may show it: quoted, unless it
 * looks like key material or is far too long to be what the field expects
 * (a key pasted into the wrong field must not reach a log or the UI).
 */
function shown(value: string): string {
  if (value.length > MAX_SHOWN_LENGTH || KEY_MATERIAL.test(value)) {
    return `(a value of ${value.length} characters, not shown because it looks like key material or is far too long: was the private key pasted into this field?)`;
  }
  return `"${redactSecrets(value)}"`;
}

/**
 * For an identifier that looks right but is refused: the first character that is not plain
 * ASCII (a zero-width space, a Cyrillic letter, an en dash from a word processor), by position
 * and code point, since the quoted value shows nothing wrong. Empty when there is none.
 */
function lookalikeNote(value: string, manager = EITHER_MANAGER): string {
  if (value.length > MAX_SHOWN_LENGTH) return '';
  const chars = [...value];
  const at = chars.findIndex((char) => char > '~' || char < ' ');
  if (at < 0) return '';
  const code = chars[at].codePointAt(0) ?? 0;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return ` Its character ${at + 1} is ${name}, not a plain letter, digit or dash, though it may look like one: type the value again or copy it from ${manager}.`;
}

function stripQuotes(value: string): string {
  const match = /^(['"])(.*)\1$/s.exec(value);
  return match ? match[2].trim() : value;
}

/**
 * A URL as shown in an error: any user name and password in it, and its query and fragment
 * (where a proxy's key would travel), replaced by `***`.
 */
function shownUrl(value: string): string {
  // Everything after the scheme up to the last @: a password with a stray / or @ in it is hidden
  // as well, and so is one without the `//` (`https:user:pw@host`, `https:\\user:pw@host`), which
  // a URL parser still reads as a user name and password (found by a review: those were shown).
  return shown(
    value.replace(/^((?:https?|ftp|wss?):[\s/\\]*)?.*@/is, '$1***@').replace(/([?#]).*$/s, '$1***'),
  );
}

/**
 * Parses an override URL: https, or http on a loopback host only (the sandbox, a local proxy),
 * and without a user name or password, query or fragment: the collector authenticates with its
 * own credentials only, and would otherwise send those in every request (or, for the API, drop
 * them silently); a query would show in every network error's message.
 */
function parseUrl(field: 'apiBaseUrl' | 'tokenUrl', value: string, example: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new IntegrationValidationError(
      `${describeField(field)} is not a valid URL: ${shownUrl(value)}. Expected an absolute URL such as ${example}.`,
    );
  }
  if (url.username || url.password) {
    throw new IntegrationValidationError(
      `${describeField(field)} must not carry a user name or password: ${shownUrl(value)}. Remove them; the integration signs in to Apple with its API account only, and a proxy in front of Apple must not need credentials in the URL.`,
    );
  }
  if (url.search || url.hash) {
    throw new IntegrationValidationError(
      field === 'apiBaseUrl'
        ? `${describeField(field)} must be an origin without query or fragment, got ${shownUrl(value)}.`
        : `${describeField(field)} must not carry a query or fragment: ${shownUrl(value)}. Apple's token endpoint takes none, and a proxy in front of it must not need credentials in the URL.`,
    );
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  if (url.protocol === 'http:') {
    throw new IntegrationValidationError(
      `${describeField(field)} must use https: ${shownUrl(value)} would send credentials unencrypted. Plain http is accepted only on loopback hosts (127.0.0.1, localhost, ::1).`,
    );
  }
  // Only a protocol known to be one is named: in `user:pw@host` the parser takes the user name for
  // one.
  const got = /^(ftp|file|wss?|ssh|sftp|mailto|data):$/.test(url.protocol)
    ? `got protocol "${url.protocol}" in`
    : 'not';
  throw new IntegrationValidationError(
    `${describeField(field)} must be an https URL, ${got} ${shownUrl(value)}.`,
  );
}

function parseApiBaseUrl(value: string, account: (typeof ACCOUNT_KINDS)[string]): string {
  const url = parseUrl('apiBaseUrl', value, account.api);
  // Apple's API for the other kind of account: certain to fail, and only once a run is under way,
  // since the configuration check signs in at the token endpoint alone (found by a review).
  // By host name alone, its trailing dot dropped: any port or spelling of the host is the same API.
  const host = url.hostname.replace(/\.$/, '');
  const other = Object.entries(ACCOUNT_KINDS).find(
    ([, kind]) => kind !== account && new URL(kind.api).hostname === host,
  );
  if (other) {
    const [prefix, kind] = other;
    throw new IntegrationValidationError(
      `${describeField('apiBaseUrl')} is the API of ${MANAGER[kind.kind]} (${kind.api}), but the Client ID is one of ${MANAGER[account.kind]} (not ${prefix}.): leave it empty, and the API the Client ID belongs to is used (${account.api}).`,
    );
  }
  // The contract says "without /v1"; accept it anyway since it is the obvious thing to paste.
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return `${url.origin}${path}`;
}

function parseFlag(config: Partial<IntegrationConfig>, field: 'checkReleasedDevices'): boolean {
  const text = fieldText(config, field);
  const flag = text?.toLowerCase();
  if (flag === undefined || flag === 'false') return false;
  if (flag === 'true') return true;
  // Shown as read, without its quotes, as every field's value is.
  throw new IntegrationValidationError(
    `${describeField(field)} must be true or false, got ${shown(text ?? '')}.`,
  );
}

function parseRetryBudget(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RETRY_BUDGET_SECONDS * 1000;
  // Plain decimals only: Number() would also take "0x10" as 16 and "1e20" as a budget of ages.
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  // Below a second no failed request could ever be tried again: the first backoff is a second.
  // Above a day, a run could wait out longer than any schedule runs it.
  if (!(seconds >= 1 && seconds <= MAX_RETRY_BUDGET_SECONDS)) {
    throw new IntegrationValidationError(
      `${describeField('retryBudgetSeconds')} must be a number of seconds from 1 to ${MAX_RETRY_BUDGET_SECONDS}, got ${shown(text)}.`,
    );
  }
  return seconds * 1000;
}

/**
 * An optional organization detail. It is stored in the graph as it is, so a value that looks like
 * key material (a key pasted into the wrong field) is refused rather than uploaded.
 */
function organizationDetail(
  config: Partial<IntegrationConfig>,
  field: keyof IntegrationConfig & `${'organization' | 'admin'}${string}`,
): string | undefined {
  const text = fieldText(config, field);
  if (text === undefined) return undefined;
  if (KEY_MATERIAL.test(text)) {
    throw new IntegrationValidationError(
      `${describeField(field)} holds a value of ${text.length} characters that looks like key material, not shown: was the private key pasted into this field? It would be stored in the graph, so it is refused.`,
    );
  }
  return text;
}

/**
 * Checks every field and applies defaults. Throws `IntegrationValidationError`
 * with a message naming the field, the problem and what to check; never echoes
 * the private key.
 */
export function parseConfig(given: Partial<IntegrationConfig> | null | undefined): AbmConfig {
  // An instance without any configuration is missing its fields, like an empty one.
  const config = given ?? {};
  const clientId = required(config, 'clientId');
  const match = CLIENT_ID_PATTERN.exec(clientId);
  if (!match) {
    throw new IntegrationValidationError(
      `${describeField('clientId')} ${shown(clientId)} is not an Apple Business Manager or Apple School Manager Client ID. Expected BUSINESSAPI.<uuid> or SCHOOLAPI.<uuid>, as shown on the API account's page.${lookalikeNote(clientId)}`,
    );
  }
  const account = ACCOUNT_KINDS[match[1]];

  const manager = MANAGER[account.kind];
  const keyId = required(config, 'keyId', manager);
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new IntegrationValidationError(
      `${describeField('keyId')} ${shown(keyId)} is not a Key ID. Expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), as shown beside the key on the API account's page; it is not the Client ID.${lookalikeNote(keyId, manager)}`,
    );
  }
  if (clientId.toLowerCase().endsWith(`.${keyId.toLowerCase()}`)) {
    throw new IntegrationValidationError(
      `${describeField('keyId')} is the UUID of the Client ID, not the Key ID: the Key ID is the other UUID, shown beside the key on the API account's page.`,
    );
  }

  if (config.privateKey !== undefined && config.privateKey !== null) {
    refuseNonScalar('privateKey', config.privateKey);
  }
  const privateKey = loadPrivateKey(config.privateKey, describeField('privateKey'), manager);

  const apiBaseUrlText = fieldText(config, 'apiBaseUrl');
  const tokenUrlText = fieldText(config, 'tokenUrl');

  return {
    clientId,
    keyId,
    privateKey,
    kind: account.kind,
    scope: account.scope,
    apiBaseUrl: apiBaseUrlText ? parseApiBaseUrl(apiBaseUrlText, account) : account.api,
    tokenUrl: tokenUrlText
      ? parseUrl('tokenUrl', tokenUrlText, DEFAULT_TOKEN_URL).toString()
      : DEFAULT_TOKEN_URL,
    organization: {
      name: organizationDetail(config, 'organizationName'),
      id: organizationDetail(config, 'organizationId'),
      email: organizationDetail(config, 'organizationEmail'),
      phone: organizationDetail(config, 'organizationPhone'),
      address: organizationDetail(config, 'organizationAddress'),
      adminId: organizationDetail(config, 'adminId'),
    },
    retryBudgetMs: parseRetryBudget(fieldText(config, 'retryBudgetSeconds')),
    checkReleasedDevices: parseFlag(config, 'checkReleasedDevices'),
  };
}
