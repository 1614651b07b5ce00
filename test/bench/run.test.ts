import { parseArgs } from './run';

describe('npm run bench options', () => {
  it('measures 10,000 and 100,000 devices and updates the document by default', () => {
    const args = parseArgs([]);
    expect(args.sizes).toEqual([10_000, 100_000]);
    expect(args).toMatchObject({
      doc: true,
      keep: false,
      rate: true,
      cpuProf: false,
      nodeFlags: [],
    });
  });

  it('passes Node flags to the measured processes, keeping their logs and leaving the document alone', () => {
    const args = parseArgs([
      '--node-flag',
      '--trace-gc-nvp',
      '--node-flag',
      '--max-semi-space-size=32',
    ]);
    expect(args.nodeFlags).toEqual(['--trace-gc-nvp', '--max-semi-space-size=32']);
    expect(args).toMatchObject({ keep: true, doc: false });
  });

  it('never writes figures of a candidate or a profiled run into the document', () => {
    expect(parseArgs(['--src', '/tmp/candidate/src'])).toMatchObject({
      srcDir: '/tmp/candidate/src',
      doc: false,
    });
    expect(parseArgs(['--cpu-prof'])).toMatchObject({ cpuProf: true, keep: true, doc: false });
  });
});
