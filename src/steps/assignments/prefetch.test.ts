import { fakeFetch, virtualClock } from '../../../test/helpers/fakeFetch';
import { generateP256 } from '../../../test/helpers/keys';
import { AbmClient } from '../../abm/client';
import { parseConfig } from '../../config';
import { ServerDeviceIdPrefetch } from './prefetch';

const config = parseConfig({
  clientId: 'BUSINESSAPI.3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b',
  keyId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  privateKey: generateP256().pkcs8,
  apiBaseUrl: 'https://api.test',
  tokenUrl: 'https://account.test/auth/oauth2/token',
});

/** Server `S<n>` has n pages of 2 ids; server `BROKEN` answers 500 on its second page. */
function setup() {
  const fetch = fakeFetch((url) => {
    if (url.pathname === '/auth/oauth2/token') {
      return { body: { access_token: 'token-1-abcdefgh', expires_in: 3600 } };
    }
    const server = decodeURIComponent(url.pathname.split('/')[3]);
    const page = Number(url.searchParams.get('cursor') ?? '0');
    if (server === 'BROKEN' && page === 1) {
      return { status: 500, body: { errors: [{ status: '500', code: 'INTERNAL_ERROR' }] } };
    }
    const pages = server === 'BROKEN' ? 3 : Number(server.slice(1));
    const data = [0, 1].map((i) => ({ type: 'orgDevices', id: `${server}-${page}-${i}` }));
    const nextCursor = page + 1 < pages ? String(page + 1) : undefined;
    return { body: { data, meta: { paging: { limit: 1000, nextCursor } } } };
  });
  const clock = virtualClock();
  const client = new AbmClient({
    config,
    http: { fetch, ...clock, maxAttempts: 2 },
    now: clock.now,
  });
  const idRequests = () =>
    fetch.calls
      .filter((c) => c.url.pathname.endsWith('/relationships/devices'))
      .map((c) => `${c.url.pathname.split('/')[3]}@${c.url.searchParams.get('cursor') ?? '0'}`);
  return { client, idRequests };
}

async function ids(pages: AsyncIterable<{ items: Array<{ id: string }> }>): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) all.push(...page.items.map((i) => i.id));
  return all;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Waits until `done()` holds (polling; at most 5 s, so a stuck prefetch fails the test). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 5) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('ServerDeviceIdPrefetch', () => {
  it('fetches ahead within its page budget, then each walk goes on where it stopped', async () => {
    const { client, idRequests } = setup();
    const prefetch = new ServerDeviceIdPrefetch(client, ['S3', 'S4', 'S2'], 5);
    await until(() => idRequests().length >= 5);
    await settle();
    // S3's three pages and two of S4's, plus what S4's walk had already asked for ahead.
    expect(idRequests().slice(0, 5)).toEqual(['S3@0', 'S3@1', 'S3@2', 'S4@0', 'S4@1']);
    expect(idRequests().some((r) => r.startsWith('S2'))).toBe(false);
    await prefetch.stop();

    expect(await ids(prefetch.walk('S4'))).toEqual(
      [0, 1, 2, 3].flatMap((p) => [`S4-${p}-0`, `S4-${p}-1`]),
    );
    expect(await ids(prefetch.walk('S3'))).toEqual(
      [0, 1, 2].flatMap((p) => [`S3-${p}-0`, `S3-${p}-1`]),
    );
    expect(await ids(prefetch.walk('S2'))).toEqual(['S2-0-0', 'S2-0-1', 'S2-1-0', 'S2-1-1']);
    // Every page exactly once.
    const requests = idRequests();
    expect(new Set(requests).size).toBe(requests.length);
    expect(requests).toHaveLength(3 + 4 + 2);
  });

  it('keeps a failure for the walk that meets it, after the pages before it', async () => {
    const { client } = setup();
    const prefetch = new ServerDeviceIdPrefetch(client, ['BROKEN', 'S1'], 10);
    await settle();
    await prefetch.stop();
    const seen: string[] = [];
    const error = await (async () => {
      for await (const page of prefetch.walk('BROKEN')) seen.push(...page.items.map((i) => i.id));
    })().catch((e) => e);
    expect(seen).toEqual(['BROKEN-0-0', 'BROKEN-0-1']);
    expect(String(error)).toContain('500 INTERNAL_ERROR');
    // The other server's list is unaffected.
    expect(await ids(prefetch.walk('S1'))).toEqual(['S1-0-0', 'S1-0-1']);
  });

  it('walks a server it never started on from the beginning', async () => {
    const { client } = setup();
    const prefetch = new ServerDeviceIdPrefetch(client, ['S2'], 1);
    await prefetch.stop();
    expect(await ids(prefetch.walk('S3'))).toHaveLength(6);
  });
});
