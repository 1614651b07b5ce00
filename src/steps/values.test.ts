import fc from 'fast-check';

import {
  MAX_STRING_LENGTH,
  readString,
  readStringArray,
  readStringOrStrings,
  readTime,
} from './values';

describe('readTime', () => {
  it.each([
    ['2024-05-01T12:30:00Z', Date.UTC(2024, 4, 1, 12, 30, 0)],
    ['2024-05-01T12:30:00.123Z', Date.UTC(2024, 4, 1, 12, 30, 0, 123)],
    ['2024-05-01T12:30:00.123456Z', Date.UTC(2024, 4, 1, 12, 30, 0, 123)],
    ['2024-05-01T12:30:00+02:00', Date.UTC(2024, 4, 1, 10, 30, 0)],
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    [' 2024-05-01T12:30:00Z ', Date.UTC(2024, 4, 1, 12, 30, 0)],
  ])('reads %j', (text, expected) => {
    expect(readTime(text)).toBe(expected);
  });

  it.each([
    '',
    'soon',
    '1',
    '2024',
    '2024-13-01T00:00:00Z',
    '2024-05-01T12:30:00 Z',
    'May 1, 2024',
    42,
    null,
  ])('reads %j as undefined', (value) => {
    expect(readTime(value)).toBeUndefined();
  });

  it('reads every UTC timestamp Apple could send exactly as Date.parse does', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const timestamp = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(13),
        two(32),
        two(24),
        two(60),
        two(60),
        fc.option(fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0'))),
      )
      .map(
        ([y, mo, d, h, mi, s, ms]) =>
          `${y}-${mo}-${d}T${h}:${mi}:${s}${ms === null ? '' : `.${ms}`}Z`,
      );
    fc.assert(
      fc.property(timestamp, (text) => {
        const parsed = Date.parse(text);
        expect(readTime(text)).toBe(Number.isNaN(parsed) ? undefined : parsed);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('readStringArray and readStringOrStrings', () => {
  // The rule, written plainly: the first 256 items, each read as a string, the unreadable left out.
  const reference = (value: unknown): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    const strings = (Array.isArray(value) ? value : [value])
      .slice(0, 256)
      .map(readString)
      .filter((s): s is string => s !== undefined);
    return strings.length > 0 ? strings : undefined;
  };
  const item = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('', '  ', ' a ', 'x'.repeat(MAX_STRING_LENGTH + 3)),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.object({ maxDepth: 1 }),
  );
  const value = fc.oneof(
    item,
    fc.array(item, { maxLength: 6 }),
    fc.array(item, { minLength: 250, maxLength: 300 }),
  );

  it('read any value as the rule says, never returning the input array', () => {
    fc.assert(
      fc.property(value, (v) => {
        const read = readStringArray(v);
        expect(read).toEqual(reference(v));
        if (read) expect(read).not.toBe(v);
        const expected = reference(v);
        expect(readStringOrStrings(v)).toEqual(expected?.length === 1 ? expected[0] : expected);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    [[], undefined, undefined],
    [['  A4:83  '], ['A4:83'], 'A4:83'],
    [
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ],
    ['one', ['one'], 'one'],
    [['', null, 3], undefined, undefined],
  ])('reads %j', (input, asArray, asOneOrMore) => {
    expect(readStringArray(input)).toEqual(asArray);
    expect(readStringOrStrings(input)).toEqual(asOneOrMore);
  });
});
