import { IntegrationLogger } from '@jupiterone/integration-sdk-runtime';

import { collectFromSandbox } from '../helpers/collect';
import { Sandbox, startSandbox } from '../sandbox';

const DEVICES = 2500;

interface LogLine {
  fields: Record<string, unknown>;
  message: string;
}

/** What the run logged at info level, from every step's logger (they are all IntegrationLoggers). */
function infoLines(spy: jest.SpyInstance): LogLine[] {
  return spy.mock.calls.map((args: unknown[]) =>
    typeof args[0] === 'string'
      ? { fields: {}, message: args[0] }
      : { fields: (args[0] ?? {}) as Record<string, unknown>, message: String(args[1]) },
  );
}

function countByType(objects: Array<{ _type: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { _type } of objects) counts[_type] = (counts[_type] ?? 0) + 1;
  return counts;
}

describe('what a run tells the person watching it', () => {
  let sandbox: Sandbox;
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    sandbox = await startSandbox({ devices: DEVICES, servers: 5, seed: 11 });
  });
  afterAll(() => sandbox.stop());
  beforeEach(() => {
    spy = jest.spyOn(IntegrationLogger.prototype, 'info');
  });
  afterEach(() => spy.mockRestore());

  it('logs device progress as pages arrive, with the total Apple gives', async () => {
    const graph = await collectFromSandbox(sandbox);
    expect(graph.error).toBeUndefined();
    const progress = infoLines(spy).filter((line) => line.message.startsWith('Devices: '));
    // The first page always reports (later ones at most every few seconds).
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0].message).toMatch(/^Devices: 1000 of 2500 collected \(page 1\)/);
    expect(progress[0].fields).toMatchObject({ devices: 1000, total: DEVICES, page: 1 });
    for (const line of progress) {
      expect(line.message).toMatch(/^Devices: \d+ of 2500 collected/);
    }
    expect(infoLines(spy).map((line) => line.message)).toContain(`Collected ${DEVICES} devices.`);
  });

  it('ends with a summary of entities and relationships per _type that matches the graph', async () => {
    const graph = await collectFromSandbox(sandbox);
    expect(graph.error).toBeUndefined();
    const summaries = infoLines(spy).filter((line) =>
      line.message.startsWith('Collection summary:'),
    );
    expect(summaries).toHaveLength(1);
    const [summary] = summaries;

    const entities = countByType(graph.entities);
    const relationships = countByType(graph.relationships);
    // Every type the run wrote, with its exact count, and no type it did not write.
    expect(summary.fields).toEqual({ entities, relationships });
    expect(Object.keys(entities)).toHaveLength(3);
    expect(Object.keys(relationships)).toHaveLength(3);
    for (const [type, count] of Object.entries({ ...entities, ...relationships })) {
      expect(summary.message).toContain(`${count} ${type}`);
    }
    expect(entities.apple_business_manager_org_device).toBe(DEVICES);
  });
});
