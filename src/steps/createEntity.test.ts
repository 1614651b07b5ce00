import { createIntegrationEntity, Entity } from '@jupiterone/integration-sdk-core';
import fc from 'fast-check';

import { createEntity } from './convert';

/** What a call gives: the entity as the graph stores it (JSON), or the error's message. */
function outcome(make: () => Entity): { stored: string } | { error: string } {
  try {
    return { stored: JSON.stringify(make()) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** Sets or (with undefined) removes the variable the runtime sets to turn schema validation on. */
function setValidation(value: string | undefined): void {
  if (value === undefined) delete process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION;
  else process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION = value;
}

function sdkEntity(assign: Record<string, unknown>): Entity {
  type Assign = Parameters<typeof createIntegrationEntity>[0]['entityData']['assign'];
  return createIntegrationEntity({ entityData: { source: {}, assign: assign as Assign } });
}

const primitive = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constant(''),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);

/**
 * Property bags like a converter's, and worse: the generic entity properties the SDK treats
 * specially (`name`, `displayName`, `tags`, `createdOn`, `active`, `status`), some Device and
 * Service properties, raw data with repeated names, `_class` as a string or an array, and keys too
 * short for the schema. Some bags fit their class's schema; many do not.
 */
const bag = fc
  .record(
    {
      _key: fc.constantFrom('apple_business_manager_org_device:C02XK1ZZJGH5', 'short'),
      _type: fc.constant('apple_business_manager_org_device'),
      _class: fc.constantFrom<string | string[]>('Device', ['Device'], ['Service'], 'Account'),
      _rawData: fc.array(
        fc.record({
          name: fc.constantFrom('default', 'detail'),
          rawData: fc.dictionary(fc.string({ maxLength: 4 }), primitive, { maxKeys: 3 }),
        }),
        { maxLength: 2 },
      ),
      name: primitive,
      displayName: primitive,
      tags: fc.oneof(fc.constant('a,b'), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 })),
      createdOn: fc.oneof(fc.integer({ min: 0 }), fc.constant(undefined)),
      active: fc.oneof(fc.boolean(), fc.constant(undefined)),
      status: fc.constantFrom('ready', 'ACTIVE', 'online', undefined),
      category: fc.constantFrom('endpoint', null, undefined),
      make: fc.constantFrom('Apple', null),
      model: fc.constantFrom('Mac14,2', null),
      serial: fc.constantFrom('C02XK1ZZJGH5', null),
      deviceId: fc.constantFrom('C02XK1ZZJGH5', undefined),
      lastSeenOn: fc.constant(null),
      function: fc.constantFrom(['device-management'], undefined),
      extra: primitive,
    },
    { requiredKeys: ['_key', '_type', '_class'] },
  )
  .map((properties) => properties as Record<string, unknown>);

describe.each([
  ['on', 'true'],
  ['off', undefined],
])('createEntity, with schema validation %s', (_, validation) => {
  const saved = process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION;
  beforeAll(() => setValidation(validation));
  afterAll(() => setValidation(saved));

  it('gives what createIntegrationEntity gives with an empty source, or throws what it throws', () => {
    let made = 0;
    let failed = 0;
    fc.assert(
      fc.property(bag, (properties) => {
        const expected = outcome(() => sdkEntity(structuredClone(properties)));
        const actual = outcome(() => createEntity(structuredClone(properties)));
        expect(actual).toEqual(expected);
        if ('stored' in expected) made += 1;
        else failed += 1;
      }),
      { numRuns: 500 },
    );
    // Both outcomes were exercised, so the property compared entities and errors alike.
    expect(made).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
  });

  it('makes the entity of the object it is given, without a copy', () => {
    const properties: Record<string, unknown> = {
      _key: 'apple_business_manager_org_device:C02XK1ZZJGH5',
      _type: 'apple_business_manager_org_device',
      _class: ['Device'],
      _rawData: [{ name: 'default', rawData: { id: 'C02XK1ZZJGH5' } }],
      name: 'C02XK1ZZJGH5',
      category: 'endpoint',
      make: 'Apple',
      model: null,
      serial: 'C02XK1ZZJGH5',
      deviceId: 'C02XK1ZZJGH5',
      lastSeenOn: null,
    };
    const entity = createEntity(properties);
    expect(entity).toBe(properties);
    expect(entity.displayName).toBe('C02XK1ZZJGH5');
    expect(entity).toEqual(sdkEntity(structuredClone(properties)));
  });
});

it('validates against the class schema only when the runtime turns validation on', () => {
  const saved = process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION;
  const invalid = () => ({
    _key: 'apple_business_manager_org_device:C02XK1ZZJGH5',
    _type: 'apple_business_manager_org_device',
    _class: ['Device'],
    name: 'no make, model, serial or deviceId',
  });
  try {
    setValidation(undefined);
    expect(() => createEntity(invalid())).not.toThrow();
    setValidation('true');
    expect(() => createEntity(invalid())).toThrow(/^Entity fails to validate as class 'Device'/);
  } finally {
    setValidation(saved);
  }
});

it('validates with the same copy of @jupiterone/data-model as the SDK core', () => {
  // Two copies would each compile the schemas, and could disagree once their versions drift.
  const core = require.resolve('@jupiterone/integration-sdk-core');
  expect(require.resolve('@jupiterone/data-model')).toBe(
    require.resolve('@jupiterone/data-model', { paths: [core] }),
  );
});
