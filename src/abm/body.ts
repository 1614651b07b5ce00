/**
 * Response bodies read as bytes into reused buffers, and parsed without ever making a page of
 * the device list one string.
 *
 * A page of 1,000 devices is about 0.7 MB of JSON. Read the usual way (node-fetch's `text()`),
 * it is first joined into a new buffer and then decoded into a new string, and both are too large
 * for V8's and the allocator's reused memory: each is mapped afresh and faults in page by page.
 * On this project's machine that cost 4.6 ms a page against 2.0 ms for the parse itself
 * (docs/performance-rounds.md, nineteenth round). Here the bytes go into buffers that are reused
 * from one response to the next, and a list document's `data` array is parsed in pieces of about
 * 64 KB, which V8 makes in its young generation like any small string.
 */

import { randomUUID } from 'crypto';
import type { Response } from 'node-fetch';

/** The size of a piece of a list document's `data` array parsed on its own. */
export const PIECE_BYTES = 64 * 1024;

/** Buffers kept for reuse; more than the transport's requests in flight need. */
const KEPT_BUFFERS = 8;
const FIRST_BUFFER_BYTES = 64 * 1024;
/** A buffer grown larger than this (say by a proxy's huge error page) is not kept. */
const LARGEST_KEPT_BYTES = 8 * 1024 * 1024;
/** How much of a body `textOf` decodes: enough for any message made from it. */
const TEXT_BYTES = 1024 * 1024;

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
/** How a list document begins when its `data` array comes first, as Apple's do. */
const LIST_HEAD = Buffer.from('{"data":[');
/** Between two records of the array: `}` closes one, `{` opens the next. */
const BETWEEN_RECORDS = Buffer.from('},{');

/** Byte buffers reused for response bodies, so that a large body is not written to fresh memory. */
export class BodyBuffers {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(FIRST_BUFFER_BYTES);
  }

  give(buffer: Buffer): void {
    if (this.free.length < KEPT_BUFFERS && buffer.length <= LARGEST_KEPT_BYTES) {
      this.free.push(buffer);
    }
  }
}

/** A body's bytes, and the buffer holding them to give back once they are read. */
export interface Body {
  bytes: Buffer;
  buffer?: Buffer;
}

/**
 * Reads a response's body. A streamed body (what node-fetch gives for a real answer) is copied
 * into a buffer from `buffers`, grown as needed; any other (a test's ready-made answer) is read by
 * node-fetch itself. A stream's error (a connection lost, the attempt's timeout) is thrown.
 */
export async function readBody(
  response: Response,
  buffers: BodyBuffers,
  maxBytes = Infinity,
): Promise<Body> {
  const stream = response.body as unknown;
  if (!isReadable(stream)) return { bytes: await response.buffer() };
  let buffer = buffers.take();
  let length = 0;
  try {
    for await (const chunk of stream) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string);
      if (length + bytes.length > maxBytes) {
        // A compressed answer can expand to gigabytes (found by a review: 741 KB of gzip made
        // 700 MB and 1.3 GB of memory); no page of the API comes near this.
        throw new Error(
          `the answer is larger than ${maxBytes >= 2 ** 20 ? `${maxBytes / 2 ** 20} MB` : `${maxBytes} bytes`}, far more than a page of the API holds`,
        );
      }
      if (length + bytes.length > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + bytes.length));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      bytes.copy(buffer, length);
      length += bytes.length;
    }
  } catch (err) {
    buffers.give(buffer);
    throw err;
  }
  return { bytes: buffer.subarray(0, length), buffer };
}

function isReadable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Buffer.isBuffer(value) &&
    typeof (value as { pipe?: unknown }).pipe === 'function' &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  );
}

/** The body as text, for messages: its first megabyte at most. */
export function textOf(bytes: Buffer): string {
  return bytes.toString('utf8', 0, Math.min(bytes.length, TEXT_BYTES));
}

/** The last `count` bytes of the body, decoded on their own. */
export function tailOf(bytes: Buffer, count: number): string {
  // A character cut in two at the start decodes as U+FFFD: only the end is read.
  return bytes.toString('utf8', Math.max(0, bytes.length - count));
}

/**
 * `JSON.parse` of the body, or undefined when it is empty or not JSON. A large list document
 * whose `data` array comes first has that array parsed in pieces (see the module's comment); the
 * result is the same as one parse's, and anything the pieces do not account for falls back to it.
 *
 * The pieces are cut where the bytes read `},{`, each at least `PIECE_BYTES` after the last cut,
 * and each is parsed as an array of its own: the cut's comma is written over with `]` for the
 * piece before it and with `[` for the piece after it (put back before returning). Inside a JSON
 * string a `"` is always escaped, so a cut that is not between two records of the array leaves a
 * piece that does not parse (a bracket or a string left open): then the whole body is parsed at
 * once. The rest of the document, from the last cut, is parsed behind `{"data":[` and a random
 * string: that string comes back first in `data` only if `data` is the array that was cut, not a
 * later member of the same name (however spelled), which one parse would answer instead.
 */
export function parseJsonBytes(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  if (bytes.length > 2 * PIECE_BYTES && startsAsList(bytes)) {
    const document = parseListInPieces(bytes);
    if (document !== undefined) return document;
  }
  try {
    const text = bytes.toString('utf8');
    // A byte order mark is no part of JSON, but some servers write one; it alone would make the
    // answer unreadable, and retried as if cut short (found by a review).
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    // Not JSON, or (beyond about 512 MB) longer than a string can be.
    return undefined;
  }
}

function startsAsList(bytes: Buffer): boolean {
  return bytes.compare(LIST_HEAD, 0, LIST_HEAD.length, 0, LIST_HEAD.length) === 0;
}

/** The document parsed in pieces, or undefined when a piece does not parse as it should. */
function parseListInPieces(bytes: Buffer): unknown {
  const pieces: unknown[][] = [];
  const cuts: number[] = [];
  // The first piece starts at the array's own `[`.
  let start = LIST_HEAD.length - 1;
  try {
    for (;;) {
      const at = bytes.indexOf(BETWEEN_RECORDS, start + PIECE_BYTES);
      if (at === -1) break;
      const comma = at + 1;
      cuts.push(comma);
      bytes[comma] = CLOSE_BRACKET;
      pieces.push(JSON.parse(bytes.toString('utf8', start, comma + 1)) as unknown[]);
      bytes[comma] = OPEN_BRACKET;
      start = comma;
    }
    if (pieces.length === 0) return undefined;
    // From the last cut's `[` (skipped) to the end: the last records and the rest of the document.
    const mark = randomUUID();
    const rest: unknown = JSON.parse(
      `${LIST_HEAD.toString()}"${mark}",${bytes.toString('utf8', start + 1)}`,
    );
    if (!isRecord(rest) || !Array.isArray(rest.data) || rest.data[0] !== mark) return undefined;
    const data = pieces.flat();
    for (let i = 1; i < rest.data.length; i++) data.push(rest.data[i]);
    rest.data = data;
    return rest;
  } catch {
    return undefined;
  } finally {
    for (const comma of cuts) bytes[comma] = COMMA;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
