import { createServer, Server } from 'http';
import nodeFetch from 'node-fetch';
import { Readable } from 'stream';

import { closeServer, listenLocal } from '../../test/helpers/localServer';
import { BodyBuffers, parseJsonBytes, PIECE_BYTES, readBody, tailOf, textOf } from './body';

/** A page of the device list as Apple's are laid out: `data` first, then links and meta. */
function listPage(records: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    data: records,
    links: { self: 'https://x/v1/orgDevices', next: 'https://x/v1/orgDevices?cursor=Q1' },
    meta: { paging: { limit: 1000, nextCursor: 'Q1' } },
    ...extra,
  });
}

function device(i: number, attributes: Record<string, unknown> = {}) {
  return {
    type: 'orgDevices',
    id: `SERIAL${i}`,
    attributes: {
      serialNumber: `SERIAL${i}`,
      deviceModel: i % 7 === 0 ? 'Mac mini (M2, 2023) – Größe “klein” 🖥' : 'iPad (9th generation)',
      addedToOrgDateTime: '2019-08-15T02:26:17Z',
      updatedDateTime: '2019-12-13T10:04:32Z',
      productFamily: 'iPad',
      productType: 'iPad12,1',
      deviceCapacity: '64GB',
      partNumber: 'MEE76LL/A',
      color: 'SILVER',
      status: 'ASSIGNED',
      purchaseSourceType: 'RESELLER',
      orderNumber: `PO-2019-${i}`,
      orderDateTime: '2019-08-10T07:00:00Z',
      imei: [],
      meid: [],
      wifiMacAddress: 'A4:83:E7:D6:D6:67',
      bluetoothMacAddress: 'BC:D0:74:42:B0:11',
      ...attributes,
    },
  };
}

const devices = (count: number, attributes?: (i: number) => Record<string, unknown>) =>
  Array.from({ length: count }, (_, i) => device(i, attributes?.(i)));

/** Parses `text` as bytes and says the longest string `JSON.parse` was given on the way. */
function parseWatched(text: string): { parsed: unknown; longest: number; bytes: Buffer } {
  const bytes = Buffer.from(text);
  const parse = jest.spyOn(JSON, 'parse');
  try {
    const parsed = parseJsonBytes(bytes);
    const longest = Math.max(0, ...parse.mock.calls.map(([arg]) => String(arg).length));
    return { parsed, longest, bytes };
  } finally {
    parse.mockRestore();
  }
}

describe('parseJsonBytes', () => {
  it('parses a page of 1,000 devices in pieces, never as one string, to what one parse makes', () => {
    const text = listPage(devices(1000));
    expect(text.length).toBeGreaterThan(8 * PIECE_BYTES);
    const { parsed, longest, bytes } = parseWatched(text);
    expect(parsed).toEqual(JSON.parse(text));
    expect(longest).toBeLessThan(2 * PIECE_BYTES);
    // Key order as one parse gives it, and the bytes as they came (the cuts are put back).
    expect(Object.keys(parsed as object)).toEqual(['data', 'links', 'meta']);
    expect(bytes.toString()).toBe(text);
  });

  it.each([
    ['"},{" inside a string value', (i: number) => ({ partNumber: `A${i}},{"type":"x"` })],
    [
      'arrays of objects inside each record',
      (i: number) => ({ parts: [{ a: i }, { b: `},{${i}` }, { c: [{}, {}] }] }),
    ],
    ['escapes and brackets in strings', (i: number) => ({ note: `\\"]}[{,\n\t"\u2028${i}` })],
  ])('gives what one parse gives with %s, cuts put back', (_, attributes) => {
    const text = listPage(devices(600, attributes));
    const { parsed, bytes } = parseWatched(text);
    expect(parsed).toEqual(JSON.parse(text));
    expect(bytes.toString()).toBe(text);
  });

  it('parses at once a document that does not start with its data array, or names "data" again', () => {
    const records = devices(400);
    const notFirst = JSON.stringify({ meta: { n: 1 }, data: records });
    // Laid out like a page, but its array is not named data.
    const otherName = JSON.stringify({ list: records });
    // `data` again after the array, however spelled: one parse answers the last (found in review:
    // cut, the escaped one had kept the records before the last cut and dropped the rest).
    const page = listPage(records).slice(0, -1);
    const again = [`${page},"data" :[1,2,3]}`, `${page},"d\u0061ta":[]}`, `${page},"data":null}`];
    for (const text of [notFirst, otherName, ...again]) {
      const { parsed, longest } = parseWatched(text);
      expect(parsed).toEqual(JSON.parse(text));
      expect(longest).toBe(text.length);
    }
    expect((parseJsonBytes(Buffer.from(again[0])) as { data: unknown }).data).toEqual([1, 2, 3]);
    expect((parseJsonBytes(Buffer.from(again[1])) as { data: unknown }).data).toEqual([]);
  });

  it('parses in pieces a page whose records hold members named data of their own', () => {
    const text = listPage(devices(400, (i) => ({ data: { id: i } })));
    const { parsed, longest } = parseWatched(text);
    expect(parsed).toEqual(JSON.parse(text));
    expect(longest).toBeLessThan(2 * PIECE_BYTES);
  });

  it('reads a document behind a UTF-8 byte order mark', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"data":[1]}')]);
    expect(parseJsonBytes(bytes)).toEqual({ data: [1] });
  });

  it('answers undefined for a body that is empty, not JSON, or cut short, and leaves it as it was', () => {
    const text = listPage(devices(600));
    for (const body of ['', '<html>502</html>', text.slice(0, text.length - 10), `${text}x`]) {
      const bytes = Buffer.from(body);
      expect(parseJsonBytes(bytes)).toBeUndefined();
      expect(bytes.toString()).toBe(body);
    }
  });

  it('parses small documents and other JSON values as they are', () => {
    for (const text of ['{"data":[]}', '[1,2]', '"x"', '{"data":[{"a":1},{"b":2}]}', ' {"a":1} ']) {
      expect(parseJsonBytes(Buffer.from(text))).toEqual(JSON.parse(text));
    }
  });
});

describe('textOf and tailOf', () => {
  it('decodes at most the first megabyte of a body for its messages', () => {
    expect(textOf(Buffer.from('<html>502</html>'))).toBe('<html>502</html>');
    expect(textOf(Buffer.alloc(3 * 1024 * 1024, 0x78))).toHaveLength(1024 * 1024);
  });

  it('decodes only the end of a body', () => {
    const bytes = Buffer.from(`${'x'.repeat(10_000)}"nextCursor":"Q1"}`);
    expect(tailOf(bytes, 20)).toBe('xx"nextCursor":"Q1"}');
    expect(tailOf(Buffer.from('short'), 4096)).toBe('short');
  });
});

describe('readBody', () => {
  let server: Server;
  let url: string;
  const page = listPage(devices(1000));

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Part of the body, then nothing more until the client gives up.
      if (req.url === '/stalls') return void res.write(page.slice(0, 100_000));
      // In pieces of 10,000 bytes, so the body grows the buffer it is read into several times.
      for (let at = 0; at < page.length; at += 10_000) res.write(page.slice(at, at + 10_000));
      res.end();
    });
    url = await listenLocal(server);
  });
  afterAll(() => closeServer(server));

  it('reads a streamed body into a buffer that is given back and reused', async () => {
    const buffers = new BodyBuffers();
    const first = await readBody(await nodeFetch(`${url}/page`), buffers);
    expect(first.bytes.toString()).toBe(page);
    expect(first.buffer).toBeDefined();
    expect(first.buffer!.length).toBeGreaterThanOrEqual(Buffer.byteLength(page));
    buffers.give(first.buffer!);
    const second = await readBody(await nodeFetch(`${url}/page`), buffers);
    expect(second.buffer).toBe(first.buffer);
    expect(parseJsonBytes(second.bytes)).toEqual(JSON.parse(page));
  });

  it('throws when the request is aborted in the middle of its body, and keeps the buffer', async () => {
    const buffers = new BodyBuffers();
    const taken = buffers.take();
    buffers.give(taken);
    const controller = new AbortController();
    const response = await nodeFetch(`${url}/stalls`, {
      signal: controller.signal as never,
    });
    const reading = readBody(response, buffers);
    setTimeout(() => controller.abort(), 50);
    await expect(reading).rejects.toThrow(/abort/i);
    // The buffer the body was read into (grown from the one taken) is given back.
    const again = buffers.take();
    expect(again.length).toBeGreaterThan(taken.length);
    expect(again.subarray(0, 100).toString()).toBe(page.slice(0, 100));
  });

  it("reads a body that is not a stream (a test's ready-made answer) through node-fetch", async () => {
    const body = await readBody(new nodeFetch.Response('{"a":1}'), new BodyBuffers());
    expect(body.buffer).toBeUndefined();
    expect(body.bytes.toString()).toBe('{"a":1}');
  });

  it('reads a stream of other chunks than buffers', async () => {
    const chunks = [new Uint8Array([0x7b, 0x22]), 'a":', new Uint8Array([0x31, 0x7d])];
    const body = await readBody(new nodeFetch.Response(Readable.from(chunks)), new BodyBuffers());
    expect(body.buffer).toBeDefined();
    expect(parseJsonBytes(body.bytes)).toEqual({ a: 1 });
  });

  it('keeps a bounded number of buffers, none very large', () => {
    const buffers = new BodyBuffers();
    const many = Array.from({ length: 20 }, () => Buffer.alloc(1));
    for (const buffer of many) buffers.give(buffer);
    const kept = new Set(Array.from({ length: 20 }, () => buffers.take()));
    expect(many.filter((buffer) => kept.has(buffer))).toHaveLength(8);
    // A buffer grown by a huge body (a proxy's error page, say) is left to the garbage collector.
    const empty = new BodyBuffers();
    const huge = Buffer.alloc(9 * 1024 * 1024);
    empty.give(huge);
    expect(empty.take()).not.toBe(huge);
  });
});
