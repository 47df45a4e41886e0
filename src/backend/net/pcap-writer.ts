// A pcap file (libpcap's classic format, microsecond timestamps, LINKTYPE_ETHERNET), written the
// way QEMU's filter-dump writes one: a global header at open, then one record per frame. Records
// are buffered and written synchronously in blocks, so a capture costs the datapath a copy and
// never an await; close() flushes, and what was written is a complete file at every flush.

import { closeSync, openSync, writeSync } from 'node:fs';

const PCAP_MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Frames are truncated to this many bytes, as filter-dump's default maxlen. */
export const DEFAULT_SNAPLEN = 65535;
const FLUSH_AT = 256 * 1024;

export class PcapWriter {
  private fd: number | null;
  private buf = Buffer.allocUnsafe(FLUSH_AT + RECORD_HEADER + DEFAULT_SNAPLEN);
  private used = 0;
  frames = 0;

  /** Creates (or truncates) `path`; throws the open error (ENOENT, EACCES, ...) as it is. */
  constructor(readonly path: string, readonly snaplen = DEFAULT_SNAPLEN, private readonly now: () => number = Date.now) {
    this.fd = openSync(path, 'w', 0o600);
    const h = Buffer.alloc(GLOBAL_HEADER);
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8);
    h.writeUInt32LE(0, 12);
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    writeSync(this.fd, h);
  }

  get open(): boolean {
    return this.fd !== null;
  }

  /** Appends one frame with the current time. */
  write(frame: Uint8Array): void {
    if (this.fd === null) return;
    const incl = Math.min(frame.length, this.snaplen);
    if (this.used + RECORD_HEADER + incl > this.buf.length) this.flush();
    const ms = this.now();
    const b = this.buf;
    b.writeUInt32LE(Math.floor(ms / 1000) >>> 0, this.used);
    b.writeUInt32LE(Math.floor((ms % 1000) * 1000), this.used + 4);
    b.writeUInt32LE(incl, this.used + 8);
    b.writeUInt32LE(frame.length, this.used + 12);
    b.set(frame.subarray(0, incl), this.used + RECORD_HEADER);
    this.used += RECORD_HEADER + incl;
    this.frames++;
    if (this.used >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.fd === null || this.used === 0) return;
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    if (this.fd === null) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
