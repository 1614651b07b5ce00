import { IntegrationLogger, PublishEventLevel } from '@jupiterone/integration-sdk-core';

import { SkipTally } from './tally';

function recordingLogger() {
  const warnings: string[] = [];
  const events: unknown[] = [];
  const logger = {
    warn: (_fields: unknown, message: string) => warnings.push(message),
    publishEvent: (event: unknown) => events.push(event),
  } as unknown as IntegrationLogger;
  return { logger, warnings, events };
}

describe('SkipTally', () => {
  it('reports one warning and one job event at warn level per reason, with examples', () => {
    const { logger, warnings, events } = recordingLogger();
    const tally = new SkipTally();
    tally.add('no serial number', 'dev-1');
    tally.add('no serial number', 'dev-2');
    tally.add('not an object');
    tally.report(logger, 'devices');
    expect(warnings).toEqual([
      '2 devices left out: no serial number (for example: dev-1, dev-2).',
      '1 device left out: not an object.',
    ]);
    expect(events).toEqual([
      {
        name: 'skipped_records',
        description: warnings[0],
        level: PublishEventLevel.Warn,
      },
      { name: 'skipped_records', description: warnings[1], level: PublishEventLevel.Warn },
    ]);
  });

  it('names 5 examples at most, however many records a reason holds', () => {
    const { logger, warnings } = recordingLogger();
    const tally = new SkipTally();
    for (let i = 1; i <= 10; i++) tally.add('unknown device', `s${i}`);
    tally.report(logger, 'assignments');
    expect(warnings).toEqual([
      '10 assignments left out: unknown device (for example: s1, s2, s3, s4, s5).',
    ]);
  });

  it.each([
    ['kept without some attributes', 'partial_records'],
    ['kept, release unknown', 'partial_records'],
    ['linked to more than one MDM server', 'inconsistent_records'],
  ] as const)('names the event of records %s %s', (outcome, name) => {
    const { logger, events } = recordingLogger();
    const tally = new SkipTally();
    tally.add('a reason', 'X');
    tally.report(logger, 'devices', outcome);
    expect(events).toEqual([
      {
        name,
        description: `1 device ${outcome}: a reason (for example: X).`,
        level: PublishEventLevel.Warn,
      },
    ]);
  });
});
