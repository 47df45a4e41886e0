// The framing of QEMU's -netdev stream (and the old -netdev socket,connect/listen): every frame
// is preceded by its length as a 4-byte big-endian integer (net_fill_rstate in net/net.c).
// The encoder is pure; the decoder is fed whatever the socket delivers (a frame split across
// reads, several frames in one read) and returns each complete frame once, or an error for a
// length no frame can have (the connection is closed then, as QEMU does).

export const LENGTH_BYTES = 4;
/** QEMU's NET_BUFSIZE: 4096 + 65536. */
export const MAX_STREAM_FRAME = 4096 + 65536;

export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_BYTES + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length, false);
  out.set(frame, LENGTH_BYTES);
  return out;
}

export type DecodeResult = { frames: Uint8Array[]; error: null } | { frames: Uint8Array[]; error: string };

export class StreamFrameDecoder {
  private readonly header = new Uint8Array(LENGTH_BYTES);
  private headerFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;

  /** Consumes `chunk`; frames complete before a bad length are still returned. */
  push(chunk: Uint8Array): DecodeResult {
    const frames: Uint8Array[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        const take = Math.min(LENGTH_BYTES - this.headerFill, chunk.length - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < LENGTH_BYTES) break;
        const len = new DataView(this.header.buffer).getUint32(0, false);
        this.headerFill = 0;
        if (len > MAX_STREAM_FRAME) return { frames, error: `frame length ${len} exceeds ${MAX_STREAM_FRAME}` };
        this.body = new Uint8Array(len);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - i);
      this.body.set(chunk.subarray(i, i + take), this.bodyFill);
      this.bodyFill += take;
      i += take;
      if (this.bodyFill === this.body.length) {
        // A zero-length record is legal on the wire and carries nothing.
        if (this.body.length > 0) frames.push(this.body);
        this.body = null;
      }
    }
    return { frames, error: null };
  }

  reset(): void {
    this.headerFill = 0;
    this.body = null;
    this.bodyFill = 0;
  }
}
