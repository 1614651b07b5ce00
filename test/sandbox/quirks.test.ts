import { startSandbox, type DataQuirks, type Sandbox } from './index';
import { apiGet, getToken, walk } from './helpers';
import { ATTRIBUTE_NAMES } from './server';

const DOCUMENTED_DEVICE_ATTRIBUTES = ATTRIBUTE_NAMES.orgDevices;
const DOCUMENTED_SERVER_ATTRIBUTES = ATTRIBUTE_NAMES.mdmServers;

const FIELDS = { 'fields[orgDevices]': 'serialNumber' };

async function withQuirks(
  quirks: DataQuirks,
  body: (sandbox: Sandbox, token: string) => Promise<void>,
): Promise<void> {
  const sandbox = await startSandbox({ devices: 95, quirks });
  try {
    await body(sandbox, await getToken(sandbox));
  } finally {
    await sandbox.stop();
  }
}

const allSerials = (sandbox: Sandbox): string[] =>
  [...Array(sandbox.fleet.deviceCount).keys()].map((i) => sandbox.fleet.device(i).id);

describe('data quirks', () => {
  it('repeatCursorOnPage: page N hands back the cursor it was given', () =>
    withQuirks({ repeatCursorOnPage: 2 }, async (sandbox, token) => {
      const first = await apiGet(
        sandbox,
        token,
        '/v1/orgDevices?limit=10&fields[orgDevices]=serialNumber',
      );
      const given = first.json.meta.paging.nextCursor;
      const second = await apiGet(
        sandbox,
        token,
        `/v1/orgDevices?limit=10&fields[orgDevices]=serialNumber&cursor=${given}`,
      );
      expect(second.json.meta.paging.nextCursor).toBe(given);
      const again = await apiGet(
        sandbox,
        token,
        `/v1/orgDevices?limit=10&fields[orgDevices]=serialNumber&cursor=${given}`,
      );
      expect(again.json.data).toEqual(second.json.data);
    }));

  it('repeatCursorOnPage: 1 points the first page back at the start', () =>
    withQuirks({ repeatCursorOnPage: 1 }, async (sandbox, token) => {
      const first = await apiGet(sandbox, token, '/v1/orgDevices?limit=10');
      const again = await apiGet(
        sandbox,
        token,
        `/v1/orgDevices?limit=10&cursor=${first.json.meta.paging.nextCursor}`,
      );
      expect(again.json.data).toEqual(first.json.data);
      expect(again.json.meta.paging.nextCursor).toBe(first.json.meta.paging.nextCursor);
    }));

  it('emptyPageWithNext: listed pages are empty but the walk continues and loses nothing', () =>
    withQuirks({ emptyPageWithNext: [2, 3] }, async (sandbox, token) => {
      const { ids, pages } = await walk(sandbox, token, '/v1/orgDevices', {
        limit: '20',
        ...FIELDS,
      });
      expect(ids).toEqual(allSerials(sandbox));
      expect(pages).toBe(5 + 2);
      const first = await apiGet(
        sandbox,
        token,
        '/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber',
      );
      const second = await apiGet(
        sandbox,
        token,
        `/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber&cursor=${first.json.meta.paging.nextCursor}`,
      );
      expect(second.json.data).toEqual([]);
      expect(second.json.meta.paging.nextCursor).toEqual(expect.any(String));
    }));

  it('duplicateDevicesAcrossPages: each next page repeats the last N devices of the previous one', () =>
    withQuirks({ duplicateDevicesAcrossPages: 3 }, async (sandbox, token) => {
      const { ids, total } = await walk(sandbox, token, '/v1/orgDevices', {
        limit: '20',
        ...FIELDS,
      });
      expect(total).toBe(95);
      expect([...new Set(ids)]).toEqual(allSerials(sandbox));
      // 95 devices, 17 new per page after the first: pages of 20,20,20,20,20,15 -> 5 overlaps.
      expect(ids.length).toBe(95 + 3 * 5);
      expect(ids.slice(20, 23)).toEqual(ids.slice(17, 20));
    }));

  it('duplicateDevicesAcrossPages: an overlap of a whole page or more still brings one new device a page', () =>
    withQuirks({ duplicateDevicesAcrossPages: 5 }, async (sandbox, token) => {
      // At limit 3 the overlap is capped at 2; were it the whole page, the walk would never end.
      const { ids, pages } = await walk(
        sandbox,
        token,
        '/v1/orgDevices',
        { limit: '3', ...FIELDS },
        200,
      );
      expect([...new Set(ids)]).toEqual(allSerials(sandbox));
      expect(pages).toBe(95 - 2);
      expect(ids.slice(3, 5)).toEqual(ids.slice(1, 3));
    }));

  it("devicesListedTwice: the first server's first devices close the second server's list too", () =>
    withQuirks({ devicesListedTwice: 3 }, async (sandbox, token) => {
      const [first, second] = sandbox.fleet.servers;
      const path = (id: string) => `/v1/mdmServers/${id}/relationships/devices`;
      const firstList = await walk(sandbox, token, path(first.id), { limit: '4' });
      const secondList = await walk(sandbox, token, path(second.id), { limit: '4' });
      expect(firstList.total).toBe(first.attributes.deviceCount);
      expect(secondList.total).toBe(second.attributes.deviceCount + 3);
      expect(secondList.ids.slice(-3)).toEqual(firstList.ids.slice(0, 3));
      expect(new Set(secondList.ids).size).toBe(secondList.ids.length);
      for (const other of sandbox.fleet.servers.slice(2)) {
        const { ids } = await walk(sandbox, token, path(other.id), { limit: '50' });
        expect(ids.filter((id) => firstList.ids.includes(id))).toEqual([]);
      }
    }));

  it('assignmentsToUnknownDevices: ghost serials appear in the first server list only', () =>
    withQuirks({ assignmentsToUnknownDevices: 4 }, async (sandbox, token) => {
      const server = sandbox.fleet.servers[0];
      const { ids, total } = await walk(
        sandbox,
        token,
        `/v1/mdmServers/${server.id}/relationships/devices`,
        { limit: '7' },
      );
      const known = new Set(allSerials(sandbox));
      const ghosts = ids.filter((id) => !known.has(id));
      expect(ghosts).toHaveLength(4);
      expect(total).toBe(server.attributes.deviceCount + 4);
      expect(ids.slice(-4)).toEqual(ghosts);
      for (const ghost of ghosts) {
        expect(ghost).toMatch(/^[0-9A-Z]{10}([0-9A-Z]{2})?$/);
        expect(sandbox.fleet.deviceIndexBySerial(ghost)).toBeUndefined();
        expect((await apiGet(sandbox, token, `/v1/orgDevices/${ghost}`)).status).toBe(404);
      }
      const other = await walk(
        sandbox,
        token,
        `/v1/mdmServers/${sandbox.fleet.servers[1].id}/relationships/devices`,
      );
      expect(other.ids.every((id) => known.has(id))).toBe(true);
    }));

  it('without quirks one server is DELETED and has no devices', () =>
    withQuirks({}, async (sandbox) => {
      const deleted = sandbox.fleet.servers.filter((s) => s.attributes.status === 'DELETED');
      expect(deleted.length).toBeGreaterThanOrEqual(1);
      expect(deleted[0].attributes.deviceCount).toBe(0);
    }));

  it('without quirks lists carry total and nextCursor, and only documented attributes', () =>
    withQuirks({}, async (sandbox, token) => {
      const page = await apiGet(sandbox, token, '/v1/orgDevices?limit=10');
      expect(page.json.meta.paging).toEqual({
        limit: 10,
        nextCursor: expect.any(String),
        total: sandbox.fleet.unreleasedCount,
      });
      for (const device of page.json.data) {
        for (const name of Object.keys(device.attributes)) {
          expect(DOCUMENTED_DEVICE_ATTRIBUTES).toContain(name);
        }
      }
      const servers = await apiGet(sandbox, token, '/v1/mdmServers');
      for (const server of servers.json.data) {
        expect(Object.keys(server.attributes).sort()).toEqual(
          [...DOCUMENTED_SERVER_ATTRIBUTES].sort(),
        );
      }
    }));

  it('omitPagingTotal: no list carries meta.paging.total, and walks still end', () =>
    withQuirks({ omitPagingTotal: true }, async (sandbox, token) => {
      const paths = [
        '/v1/orgDevices?limit=10',
        '/v1/mdmServers?limit=2',
        `/v1/mdmServers/${sandbox.fleet.servers[0].id}/relationships/devices?limit=5`,
      ];
      for (const path of paths) {
        const page = await apiGet(sandbox, token, path);
        expect(page.status).toBe(200);
        expect(page.json.meta.paging).toEqual({
          limit: expect.any(Number),
          nextCursor: expect.any(String),
        });
      }
      const { ids, total } = await walk(sandbox, token, '/v1/orgDevices', {
        limit: '20',
        ...FIELDS,
      });
      expect(ids).toEqual(allSerials(sandbox));
      expect(total).toBeUndefined();
    }));

  it('cursorOnlyInLinksNext: the cursor is only in links.next, on a wrong host', () =>
    withQuirks({ cursorOnlyInLinksNext: true }, async (sandbox, token) => {
      const ids: string[] = [];
      let path: string | undefined = '/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber';
      let pages = 0;
      while (path) {
        const page = await apiGet(sandbox, token, path);
        expect(page.status).toBe(200);
        ids.push(...page.json.data.map((d: { id: string }) => d.id));
        expect(page.json.meta.paging).not.toHaveProperty('nextCursor');
        expect(page.json.meta.paging.total).toBe(95);
        expect(page.json.links.self.startsWith(sandbox.apiBaseUrl)).toBe(true);
        const next: string | undefined = page.json.links.next;
        pages++;
        if (!next) break;
        const url = new URL(next);
        expect(url.origin).toBe('https://api-business.apple');
        expect(url.pathname).toBe('/v1/orgDevices');
        expect([...url.searchParams.keys()]).toEqual(['cursor']);
        // Build the next URL ourselves, on the real host, with our own limit and fields.
        path = `/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber&cursor=${url.searchParams.get('cursor')}`;
      }
      expect(pages).toBe(5);
      expect(ids).toEqual(allSerials(sandbox));
      const school = await getToken(sandbox, sandbox.schoolCredentials);
      const schoolPage = await apiGet(sandbox, school, '/v1/mdmServers?limit=1');
      expect(new URL(schoolPage.json.links.next).origin).toBe('https://api-school.apple');
    }));

  it('cursorsWithReservedCharacters: cursors a query must percent-encode, refused when it does not', () =>
    withQuirks(
      { cursorsWithReservedCharacters: true, cursorOnlyInLinksNext: true },
      async (sandbox, token) => {
        const ids: string[] = [];
        let path: string | undefined = '/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber';
        while (path) {
          const page = await apiGet(sandbox, token, path);
          expect(page.status).toBe(200);
          ids.push(...page.json.data.map((d: { id: string }) => d.id));
          const next: string | undefined = page.json.links.next;
          if (!next) break;
          // links.next carries the cursor percent-encoded, as a server that builds its URLs does.
          expect(next).toMatch(/\?cursor=%2B%2F[A-Za-z0-9%]+$/);
          const cursor = new URL(next).searchParams.get('cursor') as string;
          expect(cursor).toMatch(/^\+\/[A-Za-z0-9+/]+={0,2}$/);
          // Sent as it is, its `+` reads as a space: refused, as the cursor of another list is.
          const raw = await apiGet(sandbox, token, `/v1/orgDevices?limit=20&cursor=${cursor}`);
          expect(raw.status).toBe(400);
          expect(raw.json.errors[0].source).toEqual({ parameter: 'cursor' });
          path = `/v1/orgDevices?limit=20&fields[orgDevices]=serialNumber&cursor=${encodeURIComponent(cursor)}`;
        }
        expect(ids).toEqual(allSerials(sandbox));
      },
    ));

  it('legacyServerAttributes: servers without the newer attributes, no Activation Lock endpoint', () =>
    withQuirks({ legacyServerAttributes: true }, async (sandbox, token) => {
      const full = sandbox.fleet.servers[0];
      const list = await apiGet(sandbox, token, '/v1/mdmServers');
      const single = await apiGet(sandbox, token, `/v1/mdmServers/${full.id}`);
      const assignedIndex = [...Array(sandbox.fleet.deviceCount).keys()].find(
        (i) => sandbox.fleet.serverIdOfDevice(i) !== null,
      ) as number;
      const serial = sandbox.fleet.device(assignedIndex).id;
      const viaDevice = await apiGet(sandbox, token, `/v1/orgDevices/${serial}/assignedServer`);
      for (const server of [...list.json.data, single.json.data, viaDevice.json.data]) {
        expect(Object.keys(server.attributes).sort()).toEqual([
          'createdDateTime',
          'serverName',
          'serverType',
          'updatedDateTime',
        ]);
      }
      expect(single.json.data.attributes.serverName).toBe(full.attributes.serverName);
      // A fieldset naming a newer attribute is accepted and simply gets nothing for it.
      const sparse = await apiGet(
        sandbox,
        token,
        '/v1/mdmServers?fields[mdmServers]=serverName,deviceCount',
      );
      expect(sparse.status).toBe(200);
      expect(Object.keys(sparse.json.data[0].attributes)).toEqual(['serverName']);
      // The per-server lists still work.
      const ids = await walk(sandbox, token, `/v1/mdmServers/${full.id}/relationships/devices`);
      expect(ids.ids.length).toBe(full.attributes.deviceCount);

      const lock = await apiGet(sandbox, token, `/v1/orgDevices/${serial}/activationLockStatus`);
      expect(lock.status).toBe(404);
      expect(lock.json.errors[0]).toEqual(
        expect.objectContaining({ status: '404', code: 'NOT_FOUND' }),
      );
      const device = await apiGet(sandbox, token, `/v1/orgDevices/${serial}`);
      expect(Object.keys(device.json.data.relationships).sort()).toEqual([
        'appleCareCoverage',
        'assignedServer',
      ]);
      expect(sandbox.stats().byEndpoint['orgDevices.activationLockStatus']).toEqual({ '404': 1 });
    }));

  it('extraAttributes: devices and servers carry unknown attributes, fieldset or not', () =>
    withQuirks({ extraAttributes: true }, async (sandbox, token) => {
      const extraDevice = ['assetTag', 'supportsSatellite', 'deviceLocation', 'capabilities'];
      const extraServer = [
        'mdmVendorName',
        'tokenExpirationDateTime',
        'supportedCapabilities',
        'pendingDeviceCount',
      ];
      const plain = await apiGet(sandbox, token, '/v1/orgDevices?limit=5');
      const sparse = await apiGet(
        sandbox,
        token,
        '/v1/orgDevices?limit=5&fields[orgDevices]=serialNumber',
      );
      const single = await apiGet(sandbox, token, `/v1/orgDevices/${sandbox.fleet.device(0).id}`);
      for (const device of [...plain.json.data, ...sparse.json.data, single.json.data]) {
        for (const name of extraDevice) expect(device.attributes).toHaveProperty(name);
      }
      for (const name of extraDevice) expect(DOCUMENTED_DEVICE_ATTRIBUTES).not.toContain(name);
      for (const name of extraServer) expect(DOCUMENTED_SERVER_ATTRIBUTES).not.toContain(name);
      expect(Object.keys(sparse.json.data[0].attributes)).toEqual(['serialNumber', ...extraDevice]);
      // Several JSON types, the same on every call.
      const values = plain.json.data.flatMap((d: { attributes: Record<string, unknown> }) =>
        extraDevice.map((name) => d.attributes[name]),
      );
      const types = new Set(
        values.map((v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)),
      );
      expect([...types].sort()).toEqual(expect.arrayContaining(['array', 'boolean', 'object']));
      const again = await apiGet(sandbox, token, '/v1/orgDevices?limit=5');
      expect(again.json.data).toEqual(plain.json.data);

      const servers = await apiGet(sandbox, token, '/v1/mdmServers?fields[mdmServers]=serverName');
      for (const server of servers.json.data) {
        expect(Object.keys(server.attributes)).toEqual(['serverName', ...extraServer]);
      }
      const server = await apiGet(sandbox, token, `/v1/mdmServers/${sandbox.fleet.servers[1].id}`);
      for (const name of [...DOCUMENTED_SERVER_ATTRIBUTES, ...extraServer]) {
        expect(server.json.data.attributes).toHaveProperty(name);
      }
    }));

  it('purchaseSourceUidOnly: every source id spelled purchaseSourceUid, a fieldset naming purchaseSourceId refused', () =>
    withQuirks({ purchaseSourceUidOnly: true }, async (sandbox, token) => {
      const refused = await apiGet(
        sandbox,
        token,
        '/v1/orgDevices?fields[orgDevices]=serialNumber,purchaseSourceId',
      );
      expect(refused.status).toBe(400);
      expect(refused.json.errors[0].source).toEqual({ parameter: 'fields[orgDevices]' });
      const plain = await apiGet(sandbox, token, '/v1/orgDevices?limit=1000');
      const sparse = await apiGet(
        sandbox,
        token,
        '/v1/orgDevices?limit=1000&fields[orgDevices]=serialNumber,purchaseSourceUid',
      );
      const single = await apiGet(sandbox, token, `/v1/orgDevices/${sandbox.fleet.device(0).id}`);
      type Served = { id: string; attributes: Record<string, unknown> };
      const all: Served[] = [...plain.json.data, ...sparse.json.data, single.json.data];
      expect(all.filter((d) => 'purchaseSourceId' in d.attributes)).toEqual([]);
      // Every device the fleet gives a source id (in either spelling) keeps it, under this one.
      const expected = allSerials(sandbox).filter((_, i) => {
        const a = sandbox.fleet.device(i).attributes;
        return a.purchaseSourceId !== undefined || a.purchaseSourceUid !== undefined;
      });
      const served = (sparse.json.data as Served[]).filter(
        (d) => 'purchaseSourceUid' in d.attributes,
      );
      expect(served.map((d) => d.id)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(50);
      expect(
        plain.json.data.filter((d: Served) => 'purchaseSourceUid' in d.attributes).length,
      ).toBeGreaterThan(50);
    }));

  it('nullAttributes: some devices and servers have documented attributes null, the same every time', () =>
    withQuirks({ nullAttributes: true }, async (sandbox, token) => {
      const nulls = (resource: { attributes: Record<string, unknown> }) =>
        Object.keys(resource.attributes).filter((name) => resource.attributes[name] === null);
      const plainStart = await startSandbox({ devices: 95 });
      try {
        const quirky = await apiGet(sandbox, token, '/v1/orgDevices?limit=95');
        const plain = await apiGet(
          plainStart,
          await getToken(plainStart),
          '/v1/orgDevices?limit=95',
        );
        let touched = 0;
        quirky.json.data.forEach(
          (device: { id: string; attributes: Record<string, unknown> }, i: number) => {
            const before = plain.json.data[i];
            expect(device.id).toBe(before.id);
            const nulled = nulls(device).filter((name) => before.attributes[name] !== null);
            if (nulled.length > 0) touched += 1;
            expect(nulled.length).toBeLessThanOrEqual(4);
            // Only documented attributes, only those served anyway; the rest unchanged.
            for (const name of nulled) expect(DOCUMENTED_DEVICE_ATTRIBUTES).toContain(name);
            expect(Object.keys(device.attributes)).toEqual(Object.keys(before.attributes));
            for (const name of Object.keys(before.attributes)) {
              if (!nulled.includes(name))
                expect(device.attributes[name]).toEqual(before.attributes[name]);
            }
          },
        );
        // About one in four (of 95 devices: well away from none and from all).
        expect(touched).toBeGreaterThan(10);
        expect(touched).toBeLessThan(40);
        expect((await apiGet(sandbox, token, '/v1/orgDevices?limit=95')).json.data).toEqual(
          quirky.json.data,
        );
        // The fieldset applies first: a sparse device has at most its own fields, some null.
        const sparse = await apiGet(
          sandbox,
          token,
          '/v1/orgDevices?limit=95&fields[orgDevices]=serialNumber,deviceModel',
        );
        for (const device of sparse.json.data) {
          expect(Object.keys(device.attributes).sort()).toEqual(['deviceModel', 'serialNumber']);
        }
        // Servers too, in the list and one by one alike.
        const servers = await apiGet(sandbox, token, '/v1/mdmServers');
        expect(servers.json.data.some((server: never) => nulls(server).length > 0)).toBe(true);
        for (const server of servers.json.data) {
          const one = await apiGet(sandbox, token, `/v1/mdmServers/${server.id}`);
          expect(nulls(one.json.data)).toEqual(nulls(server));
          for (const name of nulls(server)) expect(DOCUMENTED_SERVER_ATTRIBUTES).toContain(name);
        }
      } finally {
        await plainStart.stop();
      }
    }));

  it.each([
    [
      'an unknown quirk',
      { repeatCursorOnPages: 2 },
      /DataQuirks has an unknown key "repeatCursorOnPages"/,
    ],
    ['a page 0', { repeatCursorOnPage: 0 }, /repeatCursorOnPage must be an integer >= 1/],
    [
      'a page number as a string',
      { repeatCursorOnPage: '2' },
      /repeatCursorOnPage must be an integer/,
    ],
    [
      'a single page instead of a list',
      { emptyPageWithNext: 2 },
      /emptyPageWithNext must be a non-empty list/,
    ],
    ['an empty page list', { emptyPageWithNext: [] }, /emptyPageWithNext must be a non-empty list/],
    [
      'a bad page in the list',
      { emptyPageWithNext: [2, 1.5] },
      /emptyPageWithNext\[1\] must be an integer/,
    ],
    [
      'a negative overlap',
      { duplicateDevicesAcrossPages: -1 },
      /duplicateDevicesAcrossPages must be an integer >= 0/,
    ],
    [
      'a count as a word',
      { assignmentsToUnknownDevices: 'four' },
      /assignmentsToUnknownDevices must be an integer/,
    ],
    ['a negative count', { devicesListedTwice: -2 }, /devicesListedTwice must be an integer >= 0/],
    ['a flag as a string', { omitPagingTotal: 'yes' }, /omitPagingTotal must be true or false/],
    ['a flag as a number', { extraAttributes: 1 }, /extraAttributes must be true or false/],
    ['quirks that are not an object', [], /DataQuirks must be an object/],
  ])('refuses %s at start, saying where', async (_label, quirks, message) => {
    await expect(
      startSandbox({ devices: 5, quirks: quirks as unknown as DataQuirks }),
    ).rejects.toThrow(message);
  });
});
