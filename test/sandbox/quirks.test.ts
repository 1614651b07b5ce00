import { startSandbox, type DataQuirks, type Sandbox } from './index';
import { apiGet, getToken, walk } from './helpers';

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
});
