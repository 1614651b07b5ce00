/**
 * Whether a host name (as a URL parser gives it, or as typed for a listen address) only reaches
 * this machine: localhost, 127.0.0.0/8, ::1, and 127.0.0.0/8 mapped into IPv6 in either of its
 * spellings (`[::ffff:127.0.0.1]` becomes `[::ffff:7f00:1]` in a parsed URL). The collector
 * allows plain http to these, and the sandbox listens on them without `--allow-remote`.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    bare === 'localhost' ||
    /^127(\.\d{1,3}){3}$/.test(bare) ||
    bare === '::1' ||
    /^(0{1,4}:){7}0{0,3}1$/.test(bare) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(bare) ||
    /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(bare)
  );
}
