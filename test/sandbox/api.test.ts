import { startSandbox, type Sandbox } from './index';
import { apiGet, getToken, walk } from './helpers';

describe('API endpoints', () => {
  let sandbox: Sandbox;
  let token: string;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: 2000, seed: 7 });
    token = await getToken(sandbox);
  });
  afterAll(() => sandbox.stop());

  const allIndices = (s: Sandbox): number[] => [...Array(s.fleet.deviceCount).keys()];
  const serialsOf = (s: Sandbox, indices: number[]): string[] =>
    indices.map((i) => s.fleet.device(i).id);

  it.each([1, 7, 100, 1000])(
    'walks every device exactly once at limit %i (with fields)',
    async (limit) => {
      if (limit === 1) sandbox.resetStats();
      const { ids, total } = await walk(sandbox, token, '/v1/orgDevices', {
        limit: String(limit),
        'fields[orgDevices]': 'serialNumber,status',
      });
      expect(total).toBe(2000);
      expect(ids).toHaveLength(2000);
      expect(new Set(ids).size).toBe(2000);
      expect(ids).toEqual(serialsOf(sandbox, allIndices(sandbox)));
      if (limit === 1) {
        const pages = sandbox.stats().pagesServed['orgDevices.list'];
        expect(Object.values(pages).every((count) => count === 1)).toBe(true);
        expect(Object.keys(pages)).toHaveLength(2000);
      }
    },
  );

  it('uses the default limit of 100 and builds links and meta', async () => {
    const first = await apiGet(sandbox, token, '/v1/orgDevices');
    expect(first.status).toBe(200);
    expect(first.json.data).toHaveLength(100);
    expect(first.json.meta.paging).toEqual({
      limit: 100,
      nextCursor: expect.any(String),
      total: sandbox.fleet.unreleasedCount,
    });
    expect(first.json.links.self).toBe(`${sandbox.apiBaseUrl}/v1/orgDevices`);
    expect(first.json.links.next).toBe(
      `${sandbox.apiBaseUrl}/v1/orgDevices?cursor=${first.json.meta.paging.nextCursor}`,
    );
    const viaLink = await apiGet(
      sandbox,
      token,
      first.json.links.next.slice(sandbox.apiBaseUrl.length),
    );
    expect(viaLink.status).toBe(200);
    expect(viaLink.json.data[0].id).not.toBe(first.json.data[0].id);
    // links.self is the request's own URL, query string included.
    expect(viaLink.json.links.self).toBe(first.json.links.next);
  });

  it('leaves released devices out of the list unless fields[orgDevices] is sent', async () => {
    const released = allIndices(sandbox).filter((i) => sandbox.fleet.isReleased(i));
    expect(released.length).toBeGreaterThan(20);
    const plain = await walk(sandbox, token, '/v1/orgDevices', { limit: '1000' });
    expect(plain.total).toBe(2000 - released.length);
    expect(plain.ids).toEqual(
      serialsOf(
        sandbox,
        allIndices(sandbox).filter((i) => !sandbox.fleet.isReleased(i)),
      ),
    );
    // A fieldset for another type is not the explicit device fieldset the quirk is about.
    const otherType = await walk(sandbox, token, '/v1/orgDevices', {
      limit: '1000',
      'fields[mdmServers]': 'serverName',
    });
    expect(otherType.total).toBe(plain.total);
    expect(otherType.ids).toEqual(plain.ids);
    const page = await apiGet(
      sandbox,
      token,
      '/v1/orgDevices?limit=1000&fields%5BorgDevices%5D=serialNumber,releasedFromOrgDateTime',
    );
    expect(page.status).toBe(200);
    for (const device of page.json.data) {
      expect(Object.keys(device.attributes)).toEqual(['serialNumber']);
    }
  });

  it('puts releasedFromOrgDateTime on the single-device GET only', async () => {
    const releasedIndex = allIndices(sandbox).find((i) => sandbox.fleet.isReleased(i)) as number;
    const keptIndex = allIndices(sandbox).find((i) => !sandbox.fleet.isReleased(i)) as number;
    const released = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${sandbox.fleet.device(releasedIndex).id}`,
    );
    expect(released.json.data.attributes.releasedFromOrgDateTime).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(released.json.data.attributes.status).toBe('UNASSIGNED');
    const kept = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${sandbox.fleet.device(keptIndex).id}`,
    );
    expect(kept.json.data.attributes.releasedFromOrgDateTime).toBeNull();
    expect(kept.json.links.self).toBe(
      `${sandbox.apiBaseUrl}/v1/orgDevices/${sandbox.fleet.device(keptIndex).id}`,
    );
    const full = await apiGet(
      sandbox,
      token,
      '/v1/orgDevices?limit=1000&fields[orgDevices]=serialNumber,status',
    );
    const list = await apiGet(sandbox, token, '/v1/orgDevices?limit=1000');
    for (const device of [...full.json.data, ...list.json.data]) {
      expect(device.attributes).not.toHaveProperty('releasedFromOrgDateTime');
    }
  });

  it('restricts attributes with sparse fieldsets, brackets encoded or not', async () => {
    const serial = sandbox.fleet.device(3).id;
    const one = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${serial}?fields%5BorgDevices%5D=serialNumber,productFamily`,
    );
    expect(Object.keys(one.json.data.attributes).sort()).toEqual(['productFamily', 'serialNumber']);
    expect(one.json.data).not.toHaveProperty('relationships');
    const servers = await apiGet(
      sandbox,
      token,
      '/v1/mdmServers?fields[mdmServers]=serverName,devices',
    );
    for (const server of servers.json.data) {
      expect(Object.keys(server.attributes)).toEqual(['serverName']);
      expect(Object.keys(server.relationships)).toEqual(['devices']);
    }
    const uid = allIndices(sandbox).find(
      (i) => 'purchaseSourceUid' in sandbox.fleet.device(i).attributes,
    ) as number;
    const alias = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${sandbox.fleet.device(uid).id}?fields[orgDevices]=purchaseSourceId`,
    );
    expect(Object.keys(alias.json.data.attributes)).toEqual(['purchaseSourceUid']);
    const id = allIndices(sandbox).find(
      (i) => 'purchaseSourceId' in sandbox.fleet.device(i).attributes,
    ) as number;
    const reverse = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${sandbox.fleet.device(id).id}?fields[orgDevices]=purchaseSourceUid`,
    );
    expect(Object.keys(reverse.json.data.attributes)).toEqual(['purchaseSourceId']);
  });

  it.each([
    ['/v1/orgDevices?fields[orgDevices]=serialNumber,nonsense', 'fields[orgDevices]'],
    ['/v1/orgDevices?fields[gadgets]=serialNumber', 'fields[gadgets]'],
    // Names every object inherits are not resource types or fields either.
    ['/v1/orgDevices?fields[constructor]=serialNumber', 'fields[constructor]'],
    ['/v1/orgDevices?fields[orgDevices]=toString', 'fields[orgDevices]'],
    ['/v1/orgDevices?limit=1001', 'limit'],
    ['/v1/orgDevices?limit=0', 'limit'],
    ['/v1/orgDevices?limit=2.5', 'limit'],
    ['/v1/orgDevices?limit=ten', 'limit'],
    ['/v1/orgDevices?limit=5&limit=6', 'limit'],
    ['/v1/orgDevices?sort=serialNumber', 'sort'],
    ['/v1/mdmServers?cursor=AAAA', 'cursor'],
  ])('answers 400 with an errors body for %s', async (path, parameter) => {
    const answer = await apiGet(sandbox, token, path);
    expect(answer.status).toBe(400);
    expect(answer.json.errors[0]).toEqual(
      expect.objectContaining({
        status: '400',
        code: expect.any(String),
        detail: expect.any(String),
        source: { parameter },
      }),
    );
  });

  it('refuses limit and cursor on endpoints that are not paged', async () => {
    const serial = sandbox.fleet.device(0).id;
    const serverId = sandbox.fleet.servers[0].id;
    for (const [path, parameter] of [
      [`/v1/orgDevices/${serial}?limit=5`, 'limit'],
      [`/v1/mdmServers/${serverId}?limit=5`, 'limit'],
      [`/v1/orgDevices/${serial}/activationLockStatus?cursor=AAAA`, 'cursor'],
      [`/v1/orgDevices/${serial}/relationships/assignedServer?cursor=AAAA`, 'cursor'],
    ]) {
      const answer = await apiGet(sandbox, token, path);
      expect(answer.status).toBe(400);
      expect(answer.json.errors[0].source).toEqual({ parameter });
    }
  });

  it('refuses tampered and foreign cursors', async () => {
    const first = await apiGet(sandbox, token, '/v1/orgDevices?limit=5');
    const cursor: string = first.json.meta.paging.nextCursor;
    const flipped = cursor.slice(0, 3) + (cursor[3] === 'A' ? 'B' : 'A') + cursor.slice(4);
    expect((await apiGet(sandbox, token, `/v1/orgDevices?cursor=${flipped}`)).status).toBe(400);
    expect((await apiGet(sandbox, token, `/v1/orgDevices?cursor=${cursor}x`)).status).toBe(400);
    // A cursor from another list, or from the list with another fieldset mode, is not this list's.
    expect((await apiGet(sandbox, token, `/v1/mdmServers?cursor=${cursor}`)).status).toBe(400);
    expect(
      (
        await apiGet(
          sandbox,
          token,
          `/v1/orgDevices?cursor=${cursor}&fields[orgDevices]=serialNumber`,
        )
      ).status,
    ).toBe(400);
    expect((await apiGet(sandbox, token, `/v1/orgDevices?cursor=${cursor}&limit=3`)).status).toBe(
      200,
    );
    const other = await startSandbox({ devices: 2000, seed: 8 });
    try {
      const otherToken = await getToken(other);
      expect((await apiGet(other, otherToken, `/v1/orgDevices?cursor=${cursor}`)).status).toBe(400);
    } finally {
      await other.stop();
    }
  });

  it('lists servers with true device counts, and per-server id lists cover exactly the assigned devices', async () => {
    const { ids } = await walk(sandbox, token, '/v1/mdmServers', { limit: '2' });
    expect(ids).toEqual(sandbox.fleet.servers.map((s) => s.id));
    const assigned = new Map<string, string>();
    for (const index of allIndices(sandbox)) {
      const serverId = sandbox.fleet.serverIdOfDevice(index);
      const device = sandbox.fleet.device(index);
      expect(device.attributes.status).toBe(serverId ? 'ASSIGNED' : 'UNASSIGNED');
      if (serverId) assigned.set(device.id, serverId);
    }
    expect(assigned.size).toBeLessThan(2000);
    let covered = 0;
    for (const server of sandbox.fleet.servers) {
      const single = await apiGet(sandbox, token, `/v1/mdmServers/${server.id}`);
      expect(single.json.data).toEqual(server);
      expect(server.id).toMatch(/^[0-9A-F]{32}$/);
      const list = await walk(sandbox, token, `/v1/mdmServers/${server.id}/relationships/devices`, {
        limit: '37',
      });
      expect(list.ids.length).toBe(server.attributes.deviceCount);
      expect(list.total).toBe(server.attributes.deviceCount);
      for (const serial of list.ids) expect(assigned.get(serial)).toBe(server.id);
      const viaFleet = [...sandbox.fleet.serverDeviceIndices(server.id)].map(
        (i) => sandbox.fleet.device(i).id,
      );
      expect(list.ids).toEqual(viaFleet);
      covered += list.ids.length;
    }
    expect(covered).toBe(assigned.size);
    const statuses = new Set(sandbox.fleet.servers.map((s) => s.attributes.status));
    const types = new Set(sandbox.fleet.servers.map((s) => s.attributes.serverType));
    expect([...statuses].sort()).toEqual(['ACTIVE', 'DELETED', 'INACTIVE']);
    expect([...types].sort()).toEqual(['APPLE_CONFIGURATOR', 'APPLE_MDM', 'MDM']);
    expect(sandbox.fleet.servers.some((s) => s.attributes.deviceCount === 0)).toBe(true);
  });

  it('answers a device assigned server as id and as full resource, or null', async () => {
    const assignedIndex = allIndices(sandbox).find(
      (i) => sandbox.fleet.serverIdOfDevice(i) !== null,
    ) as number;
    const freeIndex = allIndices(sandbox).find(
      (i) => sandbox.fleet.serverIdOfDevice(i) === null,
    ) as number;
    const serial = sandbox.fleet.device(assignedIndex).id;
    const idOnly = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${serial}/relationships/assignedServer`,
    );
    expect(idOnly.json.data).toEqual({
      type: 'mdmServers',
      id: sandbox.fleet.serverIdOfDevice(assignedIndex),
    });
    const full = await apiGet(sandbox, token, `/v1/orgDevices/${serial}/assignedServer`);
    expect(full.json.data.id).toBe(idOnly.json.data.id);
    expect(full.json.data.attributes.serverName).toEqual(expect.any(String));
    const free = sandbox.fleet.device(freeIndex).id;
    expect(
      (await apiGet(sandbox, token, `/v1/orgDevices/${free}/relationships/assignedServer`)).json
        .data,
    ).toBeNull();
    expect(
      (await apiGet(sandbox, token, `/v1/orgDevices/${free}/assignedServer`)).json.data,
    ).toBeNull();
  });

  it('pages AppleCare coverage and answers Activation Lock status', async () => {
    const index = allIndices(sandbox).find(
      (i) => sandbox.fleet.appleCareCoverage(i).length >= 2,
    ) as number;
    const serial = sandbox.fleet.device(index).id;
    const { ids, total } = await walk(
      sandbox,
      token,
      `/v1/orgDevices/${serial}/appleCareCoverage`,
      { limit: '1' },
    );
    expect(ids).toEqual(sandbox.fleet.appleCareCoverage(index).map((r) => r.id));
    expect(total).toBe(ids.length);
    const records = await apiGet(sandbox, token, `/v1/orgDevices/${serial}/appleCareCoverage`);
    expect(records.json.data).toEqual(sandbox.fleet.appleCareCoverage(index));
    // As in Apple's published examples, the records carry no links of their own.
    for (const record of records.json.data) expect(record).not.toHaveProperty('links');
    const lock = await apiGet(sandbox, token, `/v1/orgDevices/${serial}/activationLockStatus`);
    const lockSelf = `${sandbox.apiBaseUrl}/v1/orgDevices/${serial}/activationLockStatus`;
    expect(lock.json).toEqual({
      data: {
        type: 'activationLockStatus',
        id: serial,
        attributes: sandbox.fleet.activationLockStatus(index),
      },
      links: { self: lockSelf },
    });
    const lockType = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${serial}/activationLockStatus?fields[activationLockStatus]=lockType`,
    );
    expect(lockType.json.data).toEqual({
      type: 'activationLockStatus',
      id: serial,
      attributes: { lockType: sandbox.fleet.activationLockStatus(index).lockType },
    });
    // A sparse fieldset keeps the item's type and id.
    const sparseCare = await apiGet(
      sandbox,
      token,
      `/v1/orgDevices/${serial}/appleCareCoverage?fields[appleCareCoverage]=status`,
    );
    expect(sparseCare.json.data[0]).toEqual({
      type: 'appleCareCoverage',
      id: ids[0],
      attributes: { status: expect.any(String) },
    });
  });

  it('answers 404 NOT_FOUND for unknown ids and paths, 405 for other methods', async () => {
    for (const path of [
      '/v1/orgDevices/NOSUCHSERIAL',
      '/v1/orgDevices/NOSUCHSERIAL/activationLockStatus',
      '/v1/orgDevices/NOSUCHSERIAL/appleCareCoverage',
      '/v1/mdmServers/0123456789ABCDEF0123456789ABCDEF',
      '/v1/mdmServers/0123456789ABCDEF0123456789ABCDEF/relationships/devices',
      '/v1/organizations',
      '/v2/orgDevices',
    ]) {
      const answer = await apiGet(sandbox, token, path);
      expect(answer.status).toBe(404);
      expect(answer.json.errors[0]).toEqual(
        expect.objectContaining({ status: '404', code: 'NOT_FOUND' }),
      );
    }
    const post = await fetch(`${sandbox.apiBaseUrl}/v1/orgDevices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(post.status).toBe(405);
  });

  it('exposes stats and reset over HTTP control endpoints', async () => {
    await apiGet(sandbox, token, '/v1/mdmServers');
    const remote = (await (await fetch(`${sandbox.apiBaseUrl}/__sandbox/stats`)).json()) as {
      totalRequests: number;
    };
    expect(remote.totalRequests).toBe(sandbox.stats().totalRequests);
    expect(
      (await fetch(`${sandbox.apiBaseUrl}/__sandbox/reset-stats`, { method: 'POST' })).status,
    ).toBe(200);
    expect(sandbox.stats()).toEqual(
      expect.objectContaining({
        totalRequests: 0,
        byEndpoint: {},
        tokensIssued: 0,
        pagesServed: {},
      }),
    );
  });

  it("counts its process's CPU time since the last reset", () => {
    // Busy until the process has used 60 ms of CPU, however the machine schedules it.
    const start = process.cpuUsage();
    while (process.cpuUsage(start).user < 60_000);
    const before = sandbox.stats().cpuMs;
    expect(before).toBeGreaterThanOrEqual(50);
    sandbox.resetStats();
    expect(sandbox.stats().cpuMs).toBeLessThan(before);
    expect(sandbox.stats().cpuMs).toBeGreaterThanOrEqual(0);
  });
});
