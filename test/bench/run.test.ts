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

  it('compares in pairs, never writing the figures into the document', () => {
    expect(parseArgs(['--compare', 'HEAD~1'])).toMatchObject({
      compare: 'HEAD~1',
      pairs: 5,
      doc: false,
    });
    expect(parseArgs(['--compare', '/tmp/base/src', '--pairs', '12'])).toMatchObject({
      compare: '/tmp/base/src',
      pairs: 12,
    });
  });

  it('refuses --repeat with --compare and pairs that are not a positive number', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => parseArgs(['--compare', 'HEAD', '--repeat', '3'])).toThrow('exit 2');
      expect(error.mock.calls[0][0]).toContain('--compare runs pairs (--pairs N), not --repeat');
      expect(() => parseArgs(['--compare', 'HEAD', '--pairs', '0'])).toThrow('exit 2');
      expect(error.mock.calls[1][0]).toContain('--pairs needs a positive number');
    } finally {
      exit.mockRestore();
      error.mockRestore();
    }
  });
});
