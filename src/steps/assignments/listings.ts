/**
 * Which MDM server listed each device first, so that a device two servers list is noticed.
 *
 * Apple assigns a device to one server at a time, so two servers listing the same device most
 * likely means it moved from one to the other while the run read their lists. Each listing
 * still gets its relationship (which one is current cannot be told from the lists), and the run
 * says which devices.
 *
 * A set of every assigned serial would hold as many strings as the fleet has devices (some 60 MB
 * at 1,000,000). This table holds 6 bytes a slot, two slots a device (12 MB at 1,000,000): a
 * 32-bit fingerprint of the serial and the index of the server that listed it first, placed by a
 * second hash. A match says which server to check; the caller confirms it exactly, against that
 * server's relationship to the device. Two serials that share a fingerprint and a place (at
 * 1,000,000 devices, about once in several thousand runs) can at worst hide a device listed
 * twice, never report one that was not.
 */
export class FirstListings {
  private readonly fingerprints: Uint32Array;
  private readonly servers: Uint16Array;
  private readonly mask: number;
  private free: number;

  /** `devices`: how many distinct serials can come (the device list's length). */
  constructor(devices: number) {
    let slots = 1024;
    while (slots < devices * 2) slots *= 2;
    this.fingerprints = new Uint32Array(slots);
    this.servers = new Uint16Array(slots);
    this.mask = slots - 1;
    this.free = slots >>> 1;
  }

  /** The most servers the table can tell apart; above it, `record` is not to be called. */
  static readonly MAX_SERVERS = 0xffff;

  /**
   * Records that server number `server` lists `serial`. Returns the number of another server that
   * listed the same fingerprint first (almost surely this serial: confirm it), or -1.
   */
  record(serial: string, server: number): number {
    // Two FNV-1a style hashes in one pass: one places the entry, the other tells entries apart.
    let place = 0x811c9dc5;
    let print = 0x9e3779b9;
    for (let i = 0; i < serial.length; i++) {
      const code = serial.charCodeAt(i);
      place = Math.imul(place ^ code, 0x01000193);
      print = Math.imul(print ^ code, 0x5bd1e995);
      print ^= print >>> 13;
    }
    const fingerprint = print >>> 0 || 1;
    let slot = (place ^ (place >>> 16)) & this.mask;
    for (;;) {
      const held = this.fingerprints[slot];
      if (held === 0) {
        // More distinct serials than devices cannot come (only listed devices are recorded);
        // should they, the table stops recording rather than fill up.
        if (this.free <= 0) return -1;
        this.free -= 1;
        this.fingerprints[slot] = fingerprint;
        this.servers[slot] = server;
        return -1;
      }
      if (held === fingerprint) return this.servers[slot] === server ? -1 : this.servers[slot];
      slot = (slot + 1) & this.mask;
    }
  }
}
