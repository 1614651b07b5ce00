import { createHmac, timingSafeEqual } from 'crypto';

/**
 * Where a walk stands. `position` is the next device index to scan (or, past the fleet, the
 * next ghost serial), `emitted` how many items earlier pages held, `page` the 1-based number
 * of the page this cursor asks for. `context` binds the cursor to one list, so a cursor from
 * another list (or another sandbox seed) is refused rather than misread.
 */
export interface CursorState {
  context: string;
  position: number;
  emitted: number;
  page: number;
}

const MAC_BYTES = 12;
/** How a cursor begins under the cursorsWithReservedCharacters quirk. */
const RESERVED_PREFIX = '+/';

export class CursorCodec {
  private readonly key: Buffer;

  /**
   * `reserved`: cursors in standard base64 (`+`, `/`, `=` padding) behind a `+/`, so that every
   * one holds characters a query must percent-encode (the cursorsWithReservedCharacters quirk).
   */
  constructor(
    seed: number,
    private readonly reserved = false,
  ) {
    // Seed-derived so the same sandbox run reproduces the same cursors in recordings.
    this.key = Buffer.from(`abm-sandbox-cursor:${seed}`);
  }

  /** Short digest of the list a cursor belongs to; keeps cursors compact and opaque. */
  private tag(context: string): string {
    return createHmac('sha256', this.key)
      .update(`context:${context}`)
      .digest('base64url')
      .slice(0, 8);
  }

  encode(state: CursorState): string {
    const body = Buffer.from(
      `${this.tag(state.context)}|${state.position}|${state.emitted}|${state.page}`,
    );
    const mac = createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
    const bytes = Buffer.concat([body, mac]);
    return this.reserved
      ? `${RESERVED_PREFIX}${bytes.toString('base64')}`
      : bytes.toString('base64url');
  }

  /** The state, or undefined when the cursor is malformed, tampered with or for another list. */
  decode(cursor: string, context: string): CursorState | undefined {
    let raw: Buffer;
    if (this.reserved) {
      // Standard base64 only, behind the prefix: a `+` the query turned into a space is refused.
      const body = cursor.slice(RESERVED_PREFIX.length);
      if (!cursor.startsWith(RESERVED_PREFIX) || !/^[A-Za-z0-9+/]{1,512}={0,2}$/.test(body)) {
        return undefined;
      }
      raw = Buffer.from(body, 'base64');
    } else {
      if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) return undefined;
      raw = Buffer.from(cursor, 'base64url');
    }
    if (raw.length <= MAC_BYTES) return undefined;
    const body = raw.subarray(0, raw.length - MAC_BYTES);
    const mac = raw.subarray(raw.length - MAC_BYTES);
    const expected = createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
    if (!timingSafeEqual(mac, expected)) return undefined;
    const parts = body.toString('utf8').split('|');
    if (parts.length !== 4 || parts[0] !== this.tag(context)) return undefined;
    const [position, emitted, page] = parts.slice(1).map(Number);
    if (![position, emitted, page].every((n) => Number.isSafeInteger(n) && n >= 0))
      return undefined;
    return { context, position, emitted, page };
  }
}
