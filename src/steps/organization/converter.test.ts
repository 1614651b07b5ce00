import { loadConfigFromEnvironmentVariables } from '@jupiterone/integration-sdk-runtime';

import { generateP256 } from '../../../test/helpers/keys';
import { instanceConfigFields, IntegrationConfig, parseConfig } from '../../config';
import { Entities } from '../constants';
import { convertOrganization } from './converter';

const key = generateP256();
const BUSINESS_CLIENT_ID = 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const SCHOOL_CLIENT_ID = 'SCHOOLAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b';
const KEY_ID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';

/** Every optional organization variable, as a user would set it in `.env` or the environment. */
const ORGANIZATION_ENV = {
  ORGANIZATION_NAME: 'Example Corp',
  ORGANIZATION_ID: 'ORG-1234567',
  ORGANIZATION_EMAIL: 'it@example.com',
  ORGANIZATION_PHONE: '+1 555 0100',
  ORGANIZATION_ADDRESS: '1 Infinite Loop, Cupertino, CA',
  ADMIN_ID: 'admin@example.com',
};

/** Sets `env` for the duration of `body`, restoring what was there before. */
function withEnv<T>(env: Record<string, string>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** The organization entity for a configuration read from environment variables, as `npm start` does. */
function organizationFromEnv(env: Record<string, string>) {
  const raw = withEnv(env, () =>
    loadConfigFromEnvironmentVariables<IntegrationConfig>(instanceConfigFields),
  );
  return convertOrganization(parseConfig(raw));
}

/**
 * Property names as the graph stores them: the SDK leaves `createdOn: undefined` on entities
 * built without a creation time, which JSON drops.
 */
function storedKeys(entity: object): string[] {
  return Object.entries(entity)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name)
    .sort();
}

/** Properties the organization has whatever is configured. */
const ALWAYS = [
  '_key',
  '_type',
  '_class',
  '_rawData',
  'id',
  'name',
  'displayName',
  'clientId',
  'accountType',
  'orgType',
  'accessURL',
  'webLink',
];

describe('convertOrganization', () => {
  it('carries every ORGANIZATION_* variable and ADMIN_ID to its JupiterOne property', () => {
    const entity = organizationFromEnv({
      CLIENT_ID: BUSINESS_CLIENT_ID,
      KEY_ID,
      PRIVATE_KEY: key.pkcs8,
      ...ORGANIZATION_ENV,
    });
    expect(entity).toEqual({
      _key: `apple_business_manager_organization:${BUSINESS_CLIENT_ID}`,
      _type: 'apple_business_manager_organization',
      _class: ['Account'],
      _rawData: [],
      id: 'ORG-1234567',
      name: 'Example Corp',
      displayName: 'Example Corp',
      clientId: BUSINESS_CLIENT_ID,
      accountType: 'business',
      orgType: 'org',
      orgId: 'ORG-1234567',
      orgEmail: 'it@example.com',
      orgPhone: '+1 555 0100',
      orgAddress: '1 Infinite Loop, Cupertino, CA',
      adminId: 'admin@example.com',
      accessURL: 'https://business.apple.com',
      webLink: 'https://business.apple.com',
    });
    expect([entity]).toMatchGraphObjectSchema(Entities.ORGANIZATION);
  });

  it.each([
    [BUSINESS_CLIENT_ID, 'business', 'org', 'Apple Business Manager', 'https://business.apple.com'],
    [SCHOOL_CLIENT_ID, 'school', 'edu', 'Apple School Manager', 'https://school.apple.com'],
  ])(
    'for %s sets the account kind and orgType and invents nothing else',
    (clientId, accountType, orgType, portal, url) => {
      const entity = convertOrganization(
        parseConfig({ clientId, keyId: KEY_ID, privateKey: key.pkcs8 }),
      );
      expect(entity).toEqual({
        _key: `apple_business_manager_organization:${clientId}`,
        _type: 'apple_business_manager_organization',
        _class: ['Account'],
        _rawData: [],
        id: clientId,
        name: portal,
        displayName: portal,
        clientId,
        accountType,
        orgType,
        accessURL: url,
        webLink: url,
      });
      expect([entity]).toMatchGraphObjectSchema(Entities.ORGANIZATION);
    },
  );

  it('treats variables set but empty (or blank) as unset', () => {
    const blank = Object.fromEntries(Object.keys(ORGANIZATION_ENV).map((name) => [name, '  ']));
    const entity = organizationFromEnv({
      CLIENT_ID: SCHOOL_CLIENT_ID,
      KEY_ID,
      PRIVATE_KEY: key.sec1,
      ...blank,
    });
    expect(storedKeys(entity)).toEqual([...ALWAYS].sort());
    expect(entity).toMatchObject({ id: SCHOOL_CLIENT_ID, name: 'Apple School Manager' });
  });

  it('sets each detail on its own, without filling in the others', () => {
    for (const [variable, value] of Object.entries(ORGANIZATION_ENV)) {
      const entity = organizationFromEnv({
        CLIENT_ID: BUSINESS_CLIENT_ID,
        KEY_ID,
        PRIVATE_KEY: key.pkcs8,
        // Clear the others, whatever the surrounding environment or a .env file says.
        ...Object.fromEntries(Object.keys(ORGANIZATION_ENV).map((name) => [name, ''])),
        [variable]: value,
      });
      const property = {
        ORGANIZATION_NAME: ['name', 'displayName'],
        ORGANIZATION_ID: ['orgId', 'id'],
        ORGANIZATION_EMAIL: ['orgEmail'],
        ORGANIZATION_PHONE: ['orgPhone'],
        ORGANIZATION_ADDRESS: ['orgAddress'],
        ADMIN_ID: ['adminId'],
      }[variable] as string[];
      for (const name of property) expect(entity[name]).toBe(value);
      const added = storedKeys(entity).filter((name) => !ALWAYS.includes(name));
      expect(added).toEqual(property.filter((name) => !ALWAYS.includes(name)).sort());
    }
  });
});
