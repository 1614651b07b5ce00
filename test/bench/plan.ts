/**
 * What a collection of a given sandbox fleet must cost at the least: the
 * minimal requests, the longest chain of requests that must follow one
 * another, and the graph objects it yields. Computed from the sandbox's own
 * fleet generator (deterministic from seed and size), never from what a run
 * happened to do, so the benchmark can hold a run against it.
 */
import { PAGE_LIMIT } from '../../src/abm/client';
import { GeneratedFleet } from '../sandbox/fleet';

export interface FleetShape {
  devices: number;
  servers: number;
  seed: number;
}

export interface RequestPlan {
  /** Fleet size as the sandbox clamps it. */
  devices: number;
  servers: number;
  /** Devices assigned to each server, in the sandbox's server order. */
  assignedPerServer: Array<{ id: string; devices: number }>;
  /** Sum of assignedPerServer: the mdm_server -> device relationships. */
  assignments: number;
  minimal: {
    token: number;
    orgDevicesList: number;
    mdmServersList: number;
    /** One walk per server; an empty list still takes one request. */
    mdmServersDevices: number;
    total: number;
  };
  /** Requests that must follow one another (each page needs the previous page's cursor). */
  chain: {
    devices: number;
    assignments: number;
    longest: number;
  };
  /** Graph objects a complete collection holds. */
  graph: { entities: number; relationships: number };
}

export function pagesFor(items: number): number {
  return Math.max(1, Math.ceil(items / PAGE_LIMIT));
}

export function planFor(shape: FleetShape): RequestPlan {
  const fleet = new GeneratedFleet({
    seed: shape.seed,
    devices: shape.devices,
    servers: shape.servers,
    baseUrl: 'http://127.0.0.1',
  });
  const assignedPerServer = fleet.servers.map((server, slot) => ({
    id: server.id,
    devices: fleet.serverRealCount(slot),
  }));
  const devices = fleet.deviceCount;
  const servers = fleet.servers.length;
  const assignments = assignedPerServer.reduce((sum, s) => sum + s.devices, 0);
  const orgDevicesList = pagesFor(devices);
  const mdmServersList = pagesFor(servers);
  const idPages = assignedPerServer.map((s) => pagesFor(s.devices));
  const mdmServersDevices = idPages.reduce((sum, n) => sum + n, 0);
  const chainDevices = 1 + orgDevicesList;
  const chainAssignments = 1 + mdmServersList + Math.max(...idPages);
  return {
    devices,
    servers,
    assignedPerServer,
    assignments,
    minimal: {
      token: 1,
      orgDevicesList,
      mdmServersList,
      mdmServersDevices,
      total: 1 + orgDevicesList + mdmServersList + mdmServersDevices,
    },
    chain: {
      devices: chainDevices,
      assignments: chainAssignments,
      longest: Math.max(chainDevices, chainAssignments),
    },
    graph: {
      // The organization, the servers, the devices.
      entities: 1 + servers + devices,
      // organization -> server, organization -> device, server -> device.
      relationships: servers + devices + assignments,
    },
  };
}
