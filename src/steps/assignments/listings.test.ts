import { FirstListings } from './listings';

/** Serials in Apple's format: 10 or 12 characters of 0-9 and A-Z. */
function serials(count: number, seed = 1): string[] {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 8;
  };
  const out = new Set<string>();
  while (out.size < count) {
    let serial = '';
    const length = next() % 2 === 0 ? 10 : 12;
    for (let i = 0; i < length; i++) serial += alphabet[next() % alphabet.length];
    out.add(serial);
  }
  return [...out];
}

describe('FirstListings', () => {
  it('names the server that listed a device first, and only to another server', () => {
    const listings = new FirstListings(10);
    expect(listings.record('C02XK1JHJG5J', 3)).toBe(-1);
    expect(listings.record('C02XK1JHJG5J', 3)).toBe(-1);
    expect(listings.record('C02XK1JHJG5J', 0)).toBe(3);
    expect(listings.record('C02XK1JHJG5J', 7)).toBe(3);
    expect(listings.record('DMPXK1JHJG5J', 7)).toBe(-1);
    expect(listings.record('DMPXK1JHJG5J', 0)).toBe(7);
  });

  it('keeps server numbers up to its maximum', () => {
    const listings = new FirstListings(2);
    expect(listings.record('F9FXK1JHJG5J', FirstListings.MAX_SERVERS - 1)).toBe(-1);
    expect(listings.record('F9FXK1JHJG5J', 0)).toBe(FirstListings.MAX_SERVERS - 1);
  });

  it('tells 200,000 distinct serials apart, and finds each again under another server', () => {
    const all = serials(200_000);
    const listings = new FirstListings(all.length);
    const falseMatches = all.filter((serial, i) => listings.record(serial, i % 20) !== -1);
    expect(falseMatches).toEqual([]);
    const missed = all.filter((serial, i) => listings.record(serial, 20 + (i % 5)) !== i % 20);
    expect(missed).toEqual([]);
  });

  it('stops recording rather than fill up when more serials come than it was sized for', () => {
    const all = serials(5000, 7);
    const listings = new FirstListings(10);
    for (const serial of all) expect(listings.record(serial, 1)).toBe(-1);
    // What it did record, it still finds.
    expect(listings.record(all[0], 2)).toBe(1);
  });
});
