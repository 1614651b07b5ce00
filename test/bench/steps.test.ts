import { readStepTimes } from './steps';

const ESC = '\x1b';
/** A line as the CLI's pretty logger writes it, colours included. */
const line = (time: string, message: string, fields = ''): string =>
  `${ESC}[90m${time}Z${ESC}[39m ${ESC}[32m INFO${ESC}[39m Local: ${ESC}[36m${message}${ESC}[39m${
    fields ? `${ESC}[90m (${fields})${ESC}[39m` : ''
  }`;

describe('readStepTimes', () => {
  it('reads execution and step times from the CLI log, colours and noise included', () => {
    const log = [
      '(node:1) NOTE: The AWS SDK for JavaScript (v2) has reached end-of-support.',
      'TypeScript files detected. Registering ts-node.',
      line('01:07:55.188', 'Starting execution with config...', 'compressionEnabled=false'),
      line('01:07:55.230', 'Starting step "Fetch Organization"...', 'stepId=fetch-organization'),
      line('01:07:55.246', 'Completed step "Fetch Organization".', 'stepId=fetch-organization'),
      line('01:07:55.250', 'Starting step "Fetch Devices"...', 'stepId=fetch-devices'),
      line('01:07:56.000', 'Devices: 1000 of 2000 collected (page 1).', 'stepId=fetch-devices'),
      line('01:07:58.750', 'Completed step "Fetch Devices".', 'stepId=fetch-devices'),
      // The runtime may print the end right after another line's colour reset.
      `${ESC}[39m${line('01:07:59.677', 'Integration data collection has completed.')}`,
      '',
    ].join('\n');
    expect(readStepTimes(log)).toEqual({
      executionMs: 4489,
      steps: { 'fetch-organization': 16, 'fetch-devices': 3500 },
    });
  });

  it('unwraps a run that passes midnight', () => {
    const log = [
      line('23:59:59.500', 'Starting execution with config...'),
      line('23:59:59.600', 'Starting step "Fetch Devices"...', 'stepId=fetch-devices'),
      line('00:00:01.100', 'Completed step "Fetch Devices".', 'stepId=fetch-devices'),
      line('00:00:01.500', 'Integration data collection has completed.'),
    ].join('\n');
    expect(readStepTimes(log)).toEqual({
      executionMs: 2000,
      steps: { 'fetch-devices': 1500 },
    });
  });

  it('gives nothing for a log without the end of execution, and skips unfinished steps', () => {
    const started = [
      line('10:00:00.000', 'Starting execution with config...'),
      line('10:00:00.100', 'Starting step "Fetch Devices"...', 'stepId=fetch-devices'),
    ];
    expect(readStepTimes(started.join('\n'))).toBeUndefined();
    expect(readStepTimes('')).toBeUndefined();
    const ended = [...started, line('10:00:02.000', 'Integration data collection has completed.')];
    expect(readStepTimes(ended.join('\n'))).toEqual({ executionMs: 2000, steps: {} });
  });
});
