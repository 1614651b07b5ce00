import { MAX_RAW_DEPTH, TOO_DEEP } from './convert';
import { convertOrgDevice } from './devices/converter';
import { convertMdmServer } from './mdm-servers/converter';
import { asStored } from '../../test/helpers/graph';

beforeAll(() => {
  process.env.ENABLE_GRAPH_OBJECT_SCHEMA_VALIDATION = 'true';
});

const device = (attributes: Record<string, unknown>) => ({
  type: 'orgDevices',
  id: 'C02XK1ZZJGH5',
  attributes: { serialNumber: 'C02XK1ZZJGH5', status: 'ASSIGNED', ...attributes },
});

describe('attributes Apple adds later', () => {
  it('are carried over when they fit the class schema', () => {
    const result = convertOrgDevice(
      device({ batteryHealth: 'GOOD', cycleCountDateTime: '2025-01-02T03:04:05Z' }),
    );
    expect(result).toEqual({
      entity: expect.objectContaining({ batteryHealth: 'GOOD', cycleCountOn: 1735787045000 }),
    });
  });

  it('are left off under a name every object has a method of (hasOwnProperty, toString, ...)', () => {
    const names = ['hasOwnProperty', 'toString', 'valueOf', 'isPrototypeOf', 'toJSON'];
    const result = convertOrgDevice(device(Object.fromEntries(names.map((n) => [n, 'text']))));
    if (!('entity' in result)) throw new Error(result.skipped);
    for (const name of names) expect(Object.keys(result.entity)).not.toContain(name);
    // What such a property broke: the method, called on the entity.
    expect(String(result.entity)).toBe('[object Object]');
  });

  it('never take the name of a property the converter has, set or not: the raw data keeps them', () => {
    // Each would contradict what the converter worked out (found by reviews): a release date on a
    // device that is `ready`, a `deviceFamily` without its category, an `assignmentStatus`
    // without its status, a `platform` for a family it does not know, an `active` server without
    // a status; and `name` is always set.
    const added = {
      releasedFromOrgOn: 1735787045000,
      active: false,
      macAddress: ['aa:bb:cc:dd:ee:ff'],
      deviceFamily: 'Mac',
      assignmentStatus: 'ASSIGNED',
      hardwareModel: 'Mac14,2',
      platform: 'ios',
      name: 'x',
    };
    const result = convertOrgDevice({
      type: 'orgDevices',
      id: 'C02XK1ZZJGH5',
      attributes: {
        serialNumber: 'C02XK1ZZJGH5',
        productFamily: 'Holo',
        batteryHealth: 'GOOD',
        ...added,
      },
    });
    if (!('entity' in result)) throw new Error(`skipped: ${result.skipped}`);
    expect(result.entity).toMatchObject({
      status: 'unknown',
      deviceFamily: 'Holo',
      category: null,
      name: 'C02XK1ZZJGH5',
      batteryHealth: 'GOOD',
    });
    for (const name of [
      'releasedFromOrgOn',
      'active',
      'macAddress',
      'assignmentStatus',
      'hardwareModel',
      'platform',
    ]) {
      expect(asStored(result.entity)).not.toHaveProperty(name);
    }
    expect(result.dropped).toBeUndefined();
    expect(result.entity._rawData?.[0].rawData).toMatchObject({ attributes: added });
    const server = convertMdmServer({
      type: 'mdmServers',
      id: '1F2E3D4C5B6A79881F2E3D4C5B6A7988',
      attributes: { serverName: 'Jamf', active: true },
    });
    if (!('entity' in server)) throw new Error(`skipped: ${server.skipped}`);
    expect(asStored(server.entity)).not.toHaveProperty('active');
  });

  it.each([
    ['a boolean property given as text', { encrypted: 'yes' }, 'encrypted'],
    ['a URI property that is not one', { webLink: 'not a link' }, 'webLink'],
  ])('are left off, keeping the record, when they do not fit: %s', (_, extra, name) => {
    const result = convertOrgDevice(
      device({ productFamily: 'Holo', batteryHealth: 'GOOD', ...extra }),
    );
    if (!('entity' in result)) throw new Error(`skipped: ${result.skipped}`);
    expect(result.entity.serial).toBe('C02XK1ZZJGH5');
    expect(asStored(result.entity)).not.toHaveProperty(name);
    // The other added attributes go with them: which one broke the schema is not known.
    expect(asStored(result.entity)).not.toHaveProperty('batteryHealth');
    expect(result.dropped).toEqual(expect.arrayContaining([name, 'batteryHealth']));
    // The raw data still has everything Apple sent.
    expect(result.entity._rawData?.[0].rawData).toMatchObject({ attributes: extra });
  });

  it('on an MDM server: a Service property of the wrong type is left off, the server kept', () => {
    const result = convertMdmServer({
      type: 'mdmServers',
      id: '1F2E3D4C5B6A79881F2E3D4C5B6A7988',
      attributes: { serverName: 'Jamf', serverType: 'MDM', trusted: 'very' },
    });
    if (!('entity' in result)) throw new Error(`skipped: ${result.skipped}`);
    expect(result.entity.name).toBe('Jamf');
    expect(asStored(result.entity)).not.toHaveProperty('trusted');
    expect(result.dropped).toEqual(['trusted']);
  });

  it('a record whose own properties cannot fit is still skipped with the reason', () => {
    const result = convertOrgDevice({
      type: 'orgDevices',
      id: 'bad serial with spaces',
      attributes: {},
    });
    expect(result).toEqual({ skipped: expect.stringContaining('serial number') });
  });
});

describe('raw data nested without end', () => {
  const deep = (levels: number) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };

  it('keeps the record, with the too-deep value left out of its raw data, so the graph can be written', () => {
    const resource = device({ deviceModel: 'iPad', nested: deep(20_000) });
    const result = convertOrgDevice(resource);
    if (!('entity' in result)) throw new Error(result.skipped);
    // What the SDK does when it writes the graph; before, a stack overflow that ended the run.
    const stored = asStored(result.entity);
    const raw = (
      stored._rawData as unknown as Array<{ rawData: { attributes: Record<string, unknown> } }>
    )[0].rawData.attributes;
    expect(raw.nested).toBe(TOO_DEEP);
    expect(raw.deviceModel).toBe('iPad');
    expect(stored.model).toBe('iPad');
  });

  it('keeps what nests up to the limit, and the record itself uncopied when nothing is too deep', () => {
    const attributes = { serialNumber: 'C02XK1ZZJGH5', nested: deep(MAX_RAW_DEPTH - 1) };
    const result = convertOrgDevice({ type: 'orgDevices', id: 'C02XK1ZZJGH5', attributes });
    if (!('entity' in result)) throw new Error(result.skipped);
    const raw = (
      result.entity._rawData as unknown as Array<{ rawData: { attributes: unknown } }>
    )[0].rawData;
    expect(raw.attributes).toBe(attributes);
  });

  it('on an MDM server too', () => {
    const result = convertMdmServer({
      type: 'mdmServers',
      id: '0C525D50628B95793019FAF642F6F157',
      attributes: { serverName: 'Jamf', serverType: 'MDM', extra: { deeper: deep(5_000) } },
      relationships: deep(5_000),
    });
    if (!('entity' in result)) throw new Error(result.skipped);
    const stored = asStored(result.entity);
    const raw = (stored._rawData as Array<{ rawData: Record<string, Record<string, unknown>> }>)[0]
      .rawData;
    expect(raw.attributes.extra).toBe(TOO_DEEP);
    expect(raw.relationships).toBe(TOO_DEEP);
    expect(stored.name).toBe('Jamf');
  });
});
