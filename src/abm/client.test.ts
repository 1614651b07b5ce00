import { IntegrationProviderAuthenticationError } from '@jupiterone/integration-sdk-core';

import { FakeAnswer, fakeFetch, virtualClock } from '../../test/helpers/fakeFetch';
import { generateP256 } from '../../test/helpers/keys';
import { parseConfig } from '../config';
import { AbmClient, Page } from './client';
import { ORG_DEVICE_LIST_FIELDS } from './types';

const key = generateP256();
const config = parseConfig({
  clientId: 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b',
  keyId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  privateKey: key.pkcs8,
  apiBaseUrl: 'https://api.test',
  tokenUrl: 'https://account.test/auth/oauth2/token',
});

type ApiHandler = (url: URL, call: number) => FakeAnswer;

function client(api: ApiHandler) {
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
    client: new AbmClient({ config, http: { fetch, ...clock }, now: clock.now }),
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

async function collect<T>(pages: AsyncGenerator<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page.items);
  return items;
}

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
      expect(call.url.searchParams.get('fields[orgDevices]')).toBe(
        ORG_DEVICE_LIST_FIELDS.join(','),
      );
      expect((call.init.headers as Record<string, string>).authorization).toBe(
        'Bearer access-token-1',
      );
    }
  });

  it('fetches the next pages while the caller still works on the current one', async () => {
    const { fetch, client: c } = client(pagedDevices(5000, 1000));
    const pages = c.iterateOrgDevices();
    expect((await pages.next()).value?.number).toBe(1);
    // The caller holds page 1; the walk goes on without it, two pages ahead, no further.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    const cursors = () =>
      fetch.calls
        .filter((call) => call.url.pathname === '/v1/orgDevices')
        .map((call) => call.url.searchParams.get('cursor'));
    expect(cursors()).toEqual([null, '1000', '2000']);
    const rest = [];
    for await (const page of pages) rest.push(page.number);
    expect(rest).toEqual([2, 3, 4, 5]);
    expect(cursors()).toEqual([null, '1000', '2000', '3000', '4000']);
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

  it('refuses an answer that is not a JSON:API list', async () => {
    const { client: c } = client(() => ({ body: { devices: [] } }));
    await expect(collect(c.iterateOrgDevices())).rejects.toThrow(/not a JSON:API list/);
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
    // Each new token gets one try (another request may have used up the previous one), bounded.
    expect(c.auth.tokensIssued).toBe(3);
  });

  it('maps 403 to an authorization error that says which privilege to check', async () => {
    const { client: c } = client(() => ({
      status: 403,
      body: { errors: [{ status: '403', code: 'FORBIDDEN', detail: 'Not allowed' }] },
    }));
    await expect(collect(c.iterateMdmServers())).rejects.toThrow(
      /authorization failed at GET \/v1\/mdmServers: 403 FORBIDDEN: Not allowed\. The API account lacks the privilege/,
    );
  });
});
