import {
  IntegrationProviderAPIError,
  IntegrationProviderAuthenticationError,
} from '@jupiterone/integration-sdk-core';

import { FakeAnswer, fakeFetch, virtualClock } from '../../test/helpers/fakeFetch';
import { generateP256 } from '../../test/helpers/keys';
import { parseConfig } from '../config';
import { AbmClient, Page, peekNextCursor } from './client';

const key = generateP256();
const config = parseConfig({
  clientId: 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b',
  keyId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  privateKey: key.pkcs8,
  apiBaseUrl: 'https://api.test',
  tokenUrl: 'https://account.test/auth/oauth2/token',
});

type ApiHandler = (url: URL, call: number) => FakeAnswer | Promise<FakeAnswer>;

function client(api: ApiHandler, given = config) {
  let tokens = 0;
  const fetch = fakeFetch((url, _, call) => {
    if (url.pathname === '/auth/oauth2/token') {
      tokens += 1;
      return { body: { access_token: `access-token-${tokens}`, expires_in: 3600 } };
    }
    return api(url, call);
  });
  const clock = virtualClock();
  return {
    fetch,
    client: new AbmClient({ config: given, http: { fetch, ...clock }, now: clock.now }),
  };
}

/** Pages of `pageSize` numbered devices, the cursor being the next index. */
function pagedDevices(count: number, pageSize: number): ApiHandler {
  return (url) => {
    const start = Number(url.searchParams.get('cursor') ?? '0');
    const end = Math.min(count, start + pageSize);
    const data = Array.from({ length: end - start }, (_, i) => ({
      type: 'orgDevices',
      id: `SERIAL${start + i}`,
    }));
    const nextCursor = end < count ? String(end) : undefined;
    return { body: { data, meta: { paging: { limit: pageSize, nextCursor, total: count } } } };
  };
}

/** The same answers after a few milliseconds, as over a network, not in a turn of the event loop. */
function slowly(api: ApiHandler): ApiHandler {
  return async (url, call) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return api(url, call);
  };
}

async function collect<T>(pages: AsyncGenerator<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page.items);
  return items;
}

/**
 * The device fieldset the walk must send, written out rather than taken from
 * ORG_DEVICE_LIST_FIELDS, so a field dropped from (or misspelt in) that list fails here.
 * Why two documented names are left out is explained beside ORG_DEVICE_LIST_FIELDS.
 */
const EXPECTED_DEVICE_FIELDS = [
  'serialNumber',
  'addedToOrgDateTime',
  'updatedDateTime',
  'deviceModel',
  'productFamily',
  'productType',
  'deviceCapacity',
  'partNumber',
  'orderNumber',
  'orderDateTime',
  'color',
  'status',
  'imei',
  'meid',
  'eid',
  'wifiMacAddress',
  'bluetoothMacAddress',
  'ethernetMacAddress',
  'purchaseSourceType',
  'purchaseSourceId',
  'isMdmMigrationCapable',
  'mdmMigrationStatus',
  'mdmMigrationDeadlineDateTime',
];

describe('AbmClient paging', () => {
  it('walks every page at limit=1000 with the full fields list and a bearer token', async () => {
    const { fetch, client: c } = client(pagedDevices(2500, 1000));
    const devices = await collect(c.iterateOrgDevices());
    expect(devices.map((d) => d.id)).toEqual(Array.from({ length: 2500 }, (_, i) => `SERIAL${i}`));
    const apiCalls = fetch.calls.filter((call) => call.url.pathname === '/v1/orgDevices');
    expect(apiCalls.map((call) => call.url.searchParams.get('cursor'))).toEqual([
      null,
      '1000',
      '2000',
    ]);
    for (const call of apiCalls) {
      expect(call.url.searchParams.get('limit')).toBe('1000');
      expect(call.url.searchParams.get('fields[orgDevices]')?.split(',').sort()).toEqual(
        [...EXPECTED_DEVICE_FIELDS].sort(),
      );
      expect((call.init.headers as Record<string, string>).authorization).toBe(
        'Bearer access-token-1',
      );
    }
  });

  describe('when Apple refuses the fieldset', () => {
    const refusal = (field: string): FakeAnswer => ({
      status: 400,
      body: {
        errors: [
          {
            status: '400',
            code: 'PARAMETER_ERROR.INVALID',
            detail: `'${field}' is not a valid field name`,
            source: { parameter: 'fields[orgDevices]' },
          },
        ],
      },
    });
    const fieldsOf = (url: URL) => url.searchParams.get('fields[orgDevices]')?.split(',') ?? [];
    const deviceCalls = (fetch: ReturnType<typeof client>['fetch']) =>
      fetch.calls.filter((call) => call.url.pathname === '/v1/orgDevices');

    it('walks again with purchaseSourceUid when the first page refuses purchaseSourceId', async () => {
      const pages = pagedDevices(2500, 1000);
      const { fetch, client: c } = client((url, call) =>
        fieldsOf(url).includes('purchaseSourceId') ? refusal('purchaseSourceId') : pages(url, call),
      );
      expect(await collect(c.iterateOrgDevices())).toHaveLength(2500);
      const calls = deviceCalls(fetch);
      expect(calls.map((call) => call.url.searchParams.get('cursor'))).toEqual([
        null,
        null,
        '1000',
        '2000',
      ]);
      for (const call of calls.slice(1)) {
        expect(fieldsOf(call.url).sort()).toEqual(
          EXPECTED_DEVICE_FIELDS.map((f) =>
            f === 'purchaseSourceId' ? 'purchaseSourceUid' : f,
          ).sort(),
        );
      }
    });

    it('fails with the second refusal when both spellings are refused', async () => {
      const { fetch, client: c } = client((url) => refusal(fieldsOf(url).join(',')));
      await expect(collect(c.iterateOrgDevices())).rejects.toThrow(/purchaseSourceUid/);
      expect(deviceCalls(fetch)).toHaveLength(2);
    });

    it('does not walk again after a 400 on a later page', async () => {
      const pages = pagedDevices(2500, 1000);
      const { fetch, client: c } = client((url, call) =>
        url.searchParams.get('cursor') === '1000' ? refusal('cursor') : pages(url, call),
      );
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const page of c.iterateOrgDevices()) seen.push(...page.items.map((d) => d.id));
        })(),
      ).rejects.toThrow(IntegrationProviderAPIError);
      expect(seen).toHaveLength(1000);
      expect(deviceCalls(fetch)).toHaveLength(2);
    });

    it('does not walk again after another status on the first page', async () => {
      const { fetch, client: c } = client(() => ({ status: 404, body: { errors: [] } }));
      await expect(collect(c.iterateOrgDevices())).rejects.toThrow(IntegrationProviderAPIError);
      expect(deviceCalls(fetch)).toHaveLength(1);
    });
  });

  it.each([
    ['the device list', (c: AbmClient) => c.iterateOrgDevices(), /Check that apiBaseUrl/],
    [
      "one server's device ids",
      (c: AbmClient) => c.iterateServerDeviceIds('0C525D50628B95793019FAF642F6F157'),
      /The MDM server was most likely deleted during the run/,
    ],
  ])('names the likely cause of a 404 on %s', async (_, walk, hint) => {
    const { client: c } = client(() => ({ status: 404, body: { errors: [] } }));
    await expect(collect(walk(c))).rejects.toThrow(hint);
  });

  it('does not blame apiBaseUrl for a 404 on a later page, which the first page proved right', async () => {
    const devices = pagedDevices(3000, 1000);
    const { client: c } = client((url, call) =>
      url.searchParams.get('cursor') === '2000'
        ? { status: 404, body: { errors: [] } }
        : devices(url, call),
    );
    const error = await collect(c.iterateOrgDevices()).catch((e) => e);
    expect(error.message).toContain(
      'Apple no longer found this page of the list, which its earlier pages pointed to (the cursor may have expired); the next run reads the list from the start',
    );
    expect(error.message).not.toContain('apiBaseUrl');
  });

  it('fetches the next pages while the caller still works on the current one', async () => {
    const { fetch, client: c } = client(pagedDevices(5000, 1000));
    const pages = c.iterateOrgDevices();
    expect((await pages.next()).value?.number).toBe(1);
    // The caller holds page 1; the walk goes on without it, one page ahead, no further.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    const cursors = () =>
      fetch.calls
        .filter((call) => call.url.pathname === '/v1/orgDevices')
        .map((call) => call.url.searchParams.get('cursor'));
    expect(cursors()).toEqual([null, '1000']);
    const rest = [];
    for await (const page of pages) rest.push(page.number);
    expect(rest).toEqual([2, 3, 4, 5]);
    expect(cursors()).toEqual([null, '1000', '2000', '3000', '4000']);
  });

  it('sends the next request before parsing the page the caller waits for', async () => {
    const order: string[] = [];
    const pages = pagedDevices(3000, 1000);
    const { client: c } = client((url, call) => {
      order.push(`request ${url.searchParams.get('cursor') ?? 'first'}`);
      return slowly(pages)(url, call);
    });
    const realParse = JSON.parse.bind(JSON);
    const parse = jest.spyOn(JSON, 'parse').mockImplementation((text, reviver) => {
      const first = /^\{"data":\[\{"type":"orgDevices","id":"SERIAL(\d+)"/.exec(text);
      if (first) order.push(`parse ${first[1]}`);
      return realParse(text, reviver);
    });
    try {
      expect(await collect(c.iterateOrgDevices())).toHaveLength(3000);
    } finally {
      parse.mockRestore();
    }
    // Each page's request leaves before the page before it is parsed; the last page names none.
    expect(order).toEqual([
      'request first',
      'request 1000',
      'parse 0',
      'request 2000',
      'parse 1000',
      'parse 2000',
    ]);
  });

  it('drops a request sent early when the parsed page names another cursor', async () => {
    // The last "nextCursor" in the text is a device attribute, not the page's own.
    const first =
      '{"meta":{"paging":{"nextCursor":"real"}},"data":[{"id":"A","attributes":{"nextCursor":"decoy"}}]}';
    const { fetch, client: c } = client(
      slowly((url) => {
        const cursor = url.searchParams.get('cursor');
        if (cursor === null) return { text: first };
        if (cursor === 'real') return { body: { data: [{ id: 'B' }] } };
        return { status: 404, body: { errors: [{ code: 'NOT_FOUND' }] } };
      }),
    );
    expect((await collect(c.iterateOrgDevices())).map((d) => d.id)).toEqual(['A', 'B']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const cursors = fetch.calls
      .filter((call) => call.url.pathname === '/v1/orgDevices')
      .map((call) => call.url.searchParams.get('cursor'));
    expect(cursors).toEqual([null, 'decoy', 'real']);
  });

  it('sends no request early while the caller is busy with a page', async () => {
    const { fetch, client: c } = client(slowly(pagedDevices(4000, 1000)));
    const cursors = () =>
      fetch.calls
        .filter((call) => call.url.pathname === '/v1/orgDevices')
        .map((call) => call.url.searchParams.get('cursor'));
    const pages = c.iterateOrgDevices();
    expect((await pages.next()).value?.number).toBe(1);
    // Page 2 was asked for early, as the caller waited for page 1; page 3 is not, while the
    // caller holds page 1 and page 2 arrives.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(cursors()).toEqual([null, '1000']);
    const rest = [];
    for await (const page of pages) rest.push(page.number);
    expect(rest).toEqual([2, 3, 4]);
    expect(cursors()).toEqual([null, '1000', '2000', '3000']);
  });

  it('sends no request early on a cursor the walk has already seen', async () => {
    const { fetch, client: c } = client(
      slowly(() => ({
        body: { data: [{ id: 'X' }], meta: { paging: { nextCursor: 'same' } } },
      })),
    );
    await expect(collect(c.iterateOrgDevices())).rejects.toThrow(/already returned/);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(fetch.calls.filter((call) => call.url.pathname === '/v1/orgDevices')).toHaveLength(2);
  });

  it('reports the total Apple gives', async () => {
    const { client: c } = client(pagedDevices(5, 1000));
    const pages = [];
    for await (const page of c.iterateOrgDevices()) pages.push(page);
    expect(pages).toEqual([expect.objectContaining({ number: 1, total: 5 })]);
  });

  it('takes the cursor from links.next when meta has none, ignoring its host', async () => {
    const { fetch, client: c } = client((url) =>
      url.searchParams.get('cursor') === 'abc'
        ? { body: { data: [{ id: 'B' }] } }
        : {
            body: {
              data: [{ id: 'A' }],
              links: { next: 'https://wrong.host/v1/mdmServers?cursor=abc' },
            },
          },
    );
    expect((await collect(c.iterateMdmServers())).map((s) => s.id)).toEqual(['A', 'B']);
    expect(fetch.calls.every((call) => call.url.host !== 'wrong.host')).toBe(true);
  });

  // A cursor is opaque: base64 with `+`, `/` and `=` must come back as the server gave it.
  it.each([
    ['meta.paging.nextCursor', { meta: { paging: { nextCursor: 'a+b/c==' } } }, 'a+b/c=='],
    [
      'links.next, escaped',
      { links: { next: 'https://x.test/v1/mdmServers?cursor=a%2Bb%2Fc%3D%3D&limit=5' } },
      'a+b/c==',
    ],
  ])('sends back a cursor with +, / and = unchanged (%s)', async (_, paging, cursor) => {
    const { fetch, client: c } = client((url) =>
      url.searchParams.has('cursor')
        ? { body: { data: [{ id: 'B' }] } }
        : { body: { data: [{ id: 'A' }], ...paging } },
    );
    expect((await collect(c.iterateMdmServers())).map((s) => s.id)).toEqual(['A', 'B']);
    expect(fetch.calls[fetch.calls.length - 1].url.searchParams.get('cursor')).toBe(cursor);
  });

  it('sends back the bytes of an unescaped + in links.next as the link had them', async () => {
    // The server reads its own link's `+` as it reads ours: the same bytes mean the same cursor.
    const { fetch, client: c } = client((url) =>
      url.searchParams.has('cursor')
        ? { body: { data: [{ id: 'B' }] } }
        : { body: { data: [{ id: 'A' }], links: { next: 'https://x.test/v1/x?cursor=a+b' } } },
    );
    expect((await collect(c.iterateMdmServers())).map((s) => s.id)).toEqual(['A', 'B']);
    expect(fetch.calls[fetch.calls.length - 1].url.search).toContain('cursor=a+b');
  });

  it('continues from the same cursor after a failed page', async () => {
    const pages = pagedDevices(3000, 1000);
    const { fetch, client: c } = client((url, call) =>
      url.searchParams.get('cursor') === '2000' && call < 6 ? { status: 500 } : pages(url, call),
    );
    expect(await collect(c.iterateOrgDevices())).toHaveLength(3000);
    const cursors = fetch.calls
      .filter((call) => call.url.pathname === '/v1/orgDevices')
      .map((call) => call.url.searchParams.get('cursor'));
    expect(cursors.filter((cursor) => cursor === null || cursor === '1000')).toHaveLength(2);
    expect(cursors.filter((cursor) => cursor === '2000').length).toBeGreaterThan(1);
  });

  it('stops with an error when a cursor repeats', async () => {
    const { client: c } = client(() => ({
      body: { data: [{ id: 'X' }], meta: { paging: { nextCursor: 'same' } } },
    }));
    await expect(collect(c.iterateOrgDevices())).rejects.toThrow(
      /cursor that an earlier page already returned/,
    );
  });

  it('goes past empty pages that still have a next cursor', async () => {
    const { client: c } = client((url) => {
      const cursor = url.searchParams.get('cursor');
      if (cursor === null) return { body: { data: [], meta: { paging: { nextCursor: 'c1' } } } };
      if (cursor === 'c1') return { body: { data: [], meta: { paging: { nextCursor: 'c2' } } } };
      return { body: { data: [{ id: 'LAST' }] } };
    });
    expect((await collect(c.iterateOrgDevices())).map((d) => d.id)).toEqual(['LAST']);
  });

  it('gives up after 51 empty pages in a row, counting only those in a row', async () => {
    /** Pages 0..last; those in `full` hold one device, the others none. */
    const pages = (last: number, full: number[]) =>
      client((url) => {
        const page = Number(url.searchParams.get('cursor') ?? 0);
        const data = full.includes(page) ? [{ id: `D${page}` }] : [];
        const next = page < last ? String(page + 1) : undefined;
        return { body: { data, meta: { paging: { nextCursor: next } } } };
      }).client;
    // 80 empty pages, but never more than 40 in a row.
    expect(await collect(pages(82, [0, 41, 82]).iterateOrgDevices())).toHaveLength(3);
    await expect(collect(pages(82, [0, 82]).iterateOrgDevices())).rejects.toThrow(
      /51 empty pages in a row, each with another cursor/,
    );
  });

  it.each([
    ['a nextCursor that is not a string', { meta: { paging: { nextCursor: 42 } } }],
    ['a links.next without a cursor', { links: { next: 'https://api.test/v1/orgDevices?x=1' } }],
    ['a links.next that is not a URL', { links: { next: 'http://[bad' } }],
    ['a links.next that is not a string', { links: { next: { href: 'x' } } }],
  ])('stops with an error, never a short list, on %s', async (_, marker) => {
    const { client: c } = client(() => ({ body: { data: [{ id: 'ONE' }], ...marker } }));
    await expect(collect(c.iterateOrgDevices())).rejects.toThrow(
      /cannot be fetched; stopping rather than reporting part of the list as all of it/,
    );
  });

  it('ends the walk on a last page whose markers are null or empty', async () => {
    const { client: c } = client(() => ({
      body: { data: [{ id: 'ONE' }], links: { next: null }, meta: { paging: { nextCursor: '' } } },
    }));
    expect(await collect(c.iterateOrgDevices())).toHaveLength(1);
  });

  it('refuses an answer that is not a JSON:API list', async () => {
    const { client: c } = client(() => ({ body: { devices: [] } }));
    await expect(collect(c.iterateOrgDevices())).rejects.toThrow(/not a JSON:API list/);
  });
});

describe('AbmClient refused tokens', () => {
  it('replaces a token that had worked at most 5 times for one request, then gives up', async () => {
    let c: AbmClient | undefined = undefined;
    const made = client(() => {
      // Each token looks as if the API had accepted it before (expired or revoked since).
      for (let i = 1; i <= 20; i++) c!.auth.markAccepted(`access-token-${i}`);
      return { status: 401, body: { errors: [{ status: '401', code: 'NOT_AUTHORIZED' }] } };
    });
    c = made.client;
    const error = await c.getJson('GET /v1/mdmServers', '/v1/mdmServers').catch((e: Error) => e);
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect((error as Error).message).toContain('Access tokens were refused 6 times in a row');
    const tokenCalls = made.fetch.calls.filter(
      (call) => call.url.pathname === '/auth/oauth2/token',
    );
    expect(tokenCalls).toHaveLength(6);
  });
});

describe('AbmClient single device', () => {
  it('gets one device with every attribute, and undefined when Apple answers 404', async () => {
    const { fetch, client: c } = client((url) => {
      if (url.pathname === '/v1/orgDevices/GONE') {
        return { status: 404, body: { errors: [{ status: '404', code: 'NOT_FOUND' }] } };
      }
      return {
        body: {
          data: {
            type: 'orgDevices',
            id: 'C02X',
            attributes: { releasedFromOrgDateTime: '2024-01-02T03:04:05Z' },
          },
        },
      };
    });
    expect((await c.getOrgDevice('C02X'))?.attributes).toEqual({
      releasedFromOrgDateTime: '2024-01-02T03:04:05Z',
    });
    expect(await c.getOrgDevice('GONE')).toBeUndefined();
    const urls = fetch.calls.filter((call) => call.url.pathname.startsWith('/v1/'));
    // No fieldset: the single-device GET gives every attribute by default.
    expect(urls.map((call) => call.url.search)).toEqual(['', '']);
  });

  it('refuses an answer without a data object, and passes other errors on', async () => {
    const { client: c } = client((url) =>
      url.pathname === '/v1/orgDevices/EMPTY'
        ? { body: { data: [] } }
        : { status: 403, body: { errors: [{ status: '403', code: 'FORBIDDEN' }] } },
    );
    await expect(c.getOrgDevice('EMPTY')).rejects.toThrow(/not a JSON:API resource/);
    await expect(c.getOrgDevice('OTHER')).rejects.toThrow(/403 FORBIDDEN/);
  });
});

describe('AbmClient authorization', () => {
  it('renews the token once on 401 and carries on', async () => {
    const pages = pagedDevices(10, 1000);
    const { fetch, client: c } = client((url, call) => {
      const auth = fetch.calls[call - 1].init.headers as Record<string, string>;
      return auth.authorization === 'Bearer access-token-1'
        ? { status: 401, body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] } }
        : pages(url, call);
    });
    expect(await collect(c.iterateOrgDevices())).toHaveLength(10);
    expect(c.auth.tokensIssued).toBe(2);
  });

  it('gives up with an authentication error when a fresh token is refused too', async () => {
    const { client: c } = client(() => ({
      status: 401,
      body: { errors: [{ status: '401', code: 'UNAUTHORIZED', detail: 'Token revoked' }] },
    }));
    const error = await collect(c.iterateOrgDevices()).catch((e) => e);
    expect(error).toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('GET /v1/orgDevices: 401 UNAUTHORIZED: Token revoked');
    // A token refused before it was ever accepted gets one fresh replacement, no more.
    expect(c.auth.tokensIssued).toBe(2);
  });

  it('replaces tokens that other requests used up while this one waited its turn', async () => {
    // Each token is good for one request, then revoked: with 4 walks side by side, a request
    // often holds a token that others have used up by the time it is sent, several times over.
    const usesLeft = new Map<string, number>();
    let tokens = 0;
    const fetch = fakeFetch((url, init) => {
      if (url.pathname === '/auth/oauth2/token') {
        tokens += 1;
        usesLeft.set(`access-token-${tokens}`, 1);
        return { body: { access_token: `access-token-${tokens}`, expires_in: 3600 } };
      }
      const token = (init.headers as Record<string, string>).authorization.slice('Bearer '.length);
      const left = usesLeft.get(token) ?? 0;
      if (left <= 0)
        return { status: 401, body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] } };
      usesLeft.set(token, left - 1);
      return pagedDevices(50, 5)(url, 0);
    });
    const clock = virtualClock();
    const c = new AbmClient({ config, http: { fetch, ...clock }, now: clock.now });
    const walks = ['A', 'B', 'C', 'D'].map((server) => collect(c.iterateServerDeviceIds(server)));
    const lists = await Promise.all(walks);
    for (const list of lists) expect(list).toHaveLength(50);
    // 40 pages at one request a token: 40 tokens, each fetched once however many were refused.
    expect(c.auth.tokensIssued).toBe(40);
  });

  it('asks again when a renewal is refused with a 400 that does not blame the credentials', async () => {
    let tokenCalls = 0;
    const pages = pagedDevices(30, 10);
    const fetch = fakeFetch((url, init) => {
      if (url.pathname === '/auth/oauth2/token') {
        tokenCalls += 1;
        // The renewal is refused once, as Apple may do when tokens are asked for too often.
        if (tokenCalls === 2) return { status: 400, body: { error: 'invalid_request' } };
        return { body: { access_token: `access-token-${tokenCalls}`, expires_in: 3600 } };
      }
      const auth = (init.headers as Record<string, string>).authorization;
      // The first token is revoked after the first page.
      if (auth === 'Bearer access-token-1' && url.searchParams.get('cursor') !== null) {
        return { status: 401, body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] } };
      }
      return pages(url, 0);
    });
    const clock = virtualClock();
    const c = new AbmClient({ config, http: { fetch, ...clock }, now: clock.now });
    expect(await collect(c.iterateOrgDevices())).toHaveLength(30);
    expect(tokenCalls).toBe(3);
    expect(clock.waits).toContain(2000);
  });

  it('ends the step, not the run, when renewals keep being refused with such a 400', async () => {
    let tokenCalls = 0;
    const fetch = fakeFetch((url, init) => {
      if (url.pathname === '/auth/oauth2/token') {
        tokenCalls += 1;
        if (tokenCalls > 1) return { status: 400, body: { error: 'temporarily_unavailable' } };
        return { body: { access_token: 'access-token-1', expires_in: 3600 } };
      }
      const auth = (init.headers as Record<string, string>).authorization;
      if (url.searchParams.get('cursor') !== null && auth === 'Bearer access-token-1') {
        return { status: 401, body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] } };
      }
      return pagedDevices(30, 10)(url, 0);
    });
    const clock = virtualClock();
    const c = new AbmClient({ config, http: { fetch, ...clock }, now: clock.now });
    const error = await collect(c.iterateOrgDevices()).catch((e) => e);
    expect(error).toBeInstanceOf(IntegrationProviderAPIError);
    expect(error).not.toBeInstanceOf(IntegrationProviderAuthenticationError);
    expect(error.message).toContain('400 temporarily_unavailable');
    expect(tokenCalls).toBe(4);
  });

  it('stops every other walk at once after Apple refused the credentials', async () => {
    const { fetch, client: c } = client((url) =>
      url.pathname === '/v1/orgDevices'
        ? { status: 401, body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] } }
        : { body: { data: [{ type: 'orgDevices', id: 'A' }] } },
    );
    const first = await collect(c.iterateOrgDevices()).catch((e) => e);
    expect(first).toBeInstanceOf(IntegrationProviderAuthenticationError);
    const requestsBefore = fetch.calls.length;
    const second = await collect(c.iterateServerDeviceIds('S1')).catch((e) => e);
    expect(second).toBe(first);
    expect(fetch.calls).toHaveLength(requestsBefore);
  });

  it("logs each view's requests to its own logger, and the token's to the client's", async () => {
    const lines = (name: string, into: string[]) => ({
      debug: (_: object, m: string) => into.push(`${name} debug ${m}`),
      info: (_: object, m: string) => into.push(`${name} info ${m}`),
      warn: (_: object, m: string) => into.push(`${name} warn ${m}`),
    });
    const log: string[] = [];
    const failedOnce = new Set<string>();
    const { fetch, client: c } = client((url) => {
      // Each list fails once with a 503, so each walk logs a retry.
      if (!failedOnce.has(url.pathname)) {
        failedOnce.add(url.pathname);
        return { status: 503, body: {} };
      }
      return { body: { data: [{ type: 'orgDevices', id: url.pathname }] } };
    });
    c.setLogger(lines('run', log));
    const devices = c.withLogger(lines('devices', log));
    const servers = c.withLogger(lines('servers', log));
    await Promise.all([collect(devices.iterateOrgDevices()), collect(servers.iterateMdmServers())]);
    const of = (name: string) => log.filter((l) => l.startsWith(`${name} `));
    expect(of('devices')).toEqual([
      'devices debug GET /v1/orgDevices answered 503',
      expect.stringMatching(/^devices warn Retrying GET \/v1\/orgDevices in \d+ ms: 503 /),
      'devices debug GET /v1/orgDevices answered 200',
    ]);
    expect(of('servers')).toEqual([
      'servers debug GET /v1/mdmServers answered 503',
      expect.stringMatching(/^servers warn Retrying GET \/v1\/mdmServers in \d+ ms: 503 /),
      'servers debug GET /v1/mdmServers answered 200',
    ]);
    // One token for both views, requested (and logged) once, by the client they share.
    expect(of('run')).toEqual(['run debug POST /auth/oauth2/token answered 200']);
    expect(fetch.calls.filter((call) => call.url.pathname.endsWith('/token'))).toHaveLength(1);
  });

  it('shares a refusal of the credentials between views', async () => {
    const { fetch, client: c } = client(() => ({
      status: 401,
      body: { errors: [{ status: '401', code: 'UNAUTHORIZED' }] },
    }));
    const noLog = { debug: () => undefined, info: () => undefined, warn: () => undefined };
    const first = await collect(c.withLogger(noLog).iterateOrgDevices()).catch((e) => e);
    expect(first).toBeInstanceOf(IntegrationProviderAuthenticationError);
    const requestsBefore = fetch.calls.length;
    await expect(collect(c.withLogger(noLog).iterateMdmServers())).rejects.toBe(first);
    await expect(collect(c.iterateMdmServers())).rejects.toBe(first);
    expect(fetch.calls).toHaveLength(requestsBefore);
  });

  it('maps 403 to an authorization error that says which privilege to check', async () => {
    const { client: c } = client(() => ({
      status: 403,
      body: { errors: [{ status: '403', code: 'FORBIDDEN', detail: 'Not allowed' }] },
    }));
    await expect(collect(c.iterateMdmServers())).rejects.toThrow(
      /authorization failed at GET \/v1\/mdmServers: 403 FORBIDDEN: Not allowed\. The API account lacks the privilege for this resource: check its role in Apple Business Manager/,
    );
    // A School account's role is in Apple School Manager.
    const school = { ...config, kind: 'school' as const, scope: 'school.api' as const };
    const { client: s } = client(
      () => ({ status: 403, body: { errors: [{ status: '403', code: 'FORBIDDEN' }] } }),
      school,
    );
    await expect(collect(s.iterateMdmServers())).rejects.toThrow(
      /check its role in Apple School Manager \(Preferences > API\)/,
    );
  });
});

describe('peekNextCursor', () => {
  const page = (meta: string) => `{"data":[{"id":"A"}],"links":{"self":"x"},"meta":${meta}}`;

  it('reads the cursor that the end of a page names', () => {
    expect(
      peekNextCursor(page('{"paging":{"limit":1000,"nextCursor":"MTAwMA==","total":5}}')),
    ).toBe('MTAwMA==');
    expect(peekNextCursor(page('{"paging": {"nextCursor" : "c 1"}}'))).toBe('c 1');
  });

  it('reads the last one named, within the end of the text only', () => {
    expect(peekNextCursor(`{"nextCursor":"early",${'"x":1,'.repeat(10)}"nextCursor":"late"}`)).toBe(
      'late',
    );
    expect(peekNextCursor(`{"nextCursor":"far","pad":"${'x'.repeat(5000)}"}`)).toBeUndefined();
  });

  it.each([
    ['null', '{"paging":{"nextCursor":null}}'],
    ['missing', '{"paging":{"limit":1000}}'],
    ['escaped', '{"paging":{"nextCursor":"a\\"b"}}'],
    ['a number', '{"paging":{"nextCursor":42}}'],
    ['empty', '{"paging":{"nextCursor":""}}'],
  ])('answers undefined for a cursor that is %s', (_, meta) => {
    expect(peekNextCursor(page(meta))).toBeUndefined();
  });

  it('answers undefined for a control character, which no JSON string holds as is', () => {
    expect(peekNextCursor('{"nextCursor":"a\nb"}')).toBeUndefined();
  });
});
