/**
 * Deterministic randomness keyed by (seed, index, salt), so any single device can be
 * regenerated without producing the ones before it.
 */

function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A uint32 that depends on every input; seeds above 2^32 still differ through their high part. */
export function hash32(seed: number, index: number, salt: number): number {
  const high = Math.floor(seed / 0x100000000);
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ mix32(high + 0x7f4a7c15));
  h = mix32(h ^ (index >>> 0));
  h = mix32(h + Math.imul(salt, 0x27d4eb2d));
  return h;
}

export function unit(seed: number, index: number, salt: number): number {
  return hash32(seed, index, salt) / 0x100000000;
}

/** mulberry32 stream, for the many draws one device needs. */
export class Rng {
  private state: number;

  constructor(seed: number, index: number, salt: number) {
    this.state = hash32(seed, index, salt);
  }

  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  float(): number {
    return this.u32() / 0x100000000;
  }

  int(bound: number): number {
    return Math.floor(this.float() * bound);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  digits(count: number): string {
    let out = '';
    for (let i = 0; i < count; i++) out += String(this.int(10));
    return out;
  }

  hex(count: number): string {
    let out = '';
    for (let i = 0; i < count; i++) out += '0123456789ABCDEF'[this.int(16)];
    return out;
  }
}
