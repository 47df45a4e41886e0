// The xenstore wire format (xen/include/public/io/xs_wire.h, struct xsd_sockmsg): a 16-byte little-endian header
// (type, req_id, tx_id, len) and at most 4096 payload bytes. `encodeMessage` is a pure framer;
// `FrameDecoder` turns a byte stream, cut anywhere, back into messages.
//
// The decoder is a loop over two named states, each taking exactly what it needs or waiting:
//
//   HEADER ──16 bytes──► PAYLOAD ──len bytes──► (message) ──► HEADER
//      │                    ▲
//      └──len > 4096────────┼──► FAILED (one error, then nothing: the connection is dropped)
//                           └── len = 0 goes straight to the message
//
// It never throws on input: a payload over the limit is returned as an error with a stable code,
// as cx treats it (a protocol violation that drops the connection). The message type is not
// judged here; unknown types are answered ENOSYS by the request layer.

/** `enum xsd_sockmsg_type`. */
export const XsMsgType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESTRICT: 20,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  GET_FEATURE: 23,
  SET_FEATURE: 24,
  GET_QUOTA: 25,
  SET_QUOTA: 26,
} as const;

export type XsMsgTypeName = keyof typeof XsMsgType;

/** XS_TYPE_COUNT: the first type no implementation knows. */
export const XS_TYPE_COUNT = 27;

export const XS_HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX, both directions; exactly 4096 is legal. */
export const XS_PAYLOAD_MAX = 4096;

const NAMES: readonly string[] = Object.keys(XsMsgType);

/** `READ`, `WATCH_EVENT`, ... or `type 42` for numbers outside the enum (logs and traces). */
export function msgTypeName(type: number): string {
  return Number.isInteger(type) && type >= 0 && type < NAMES.length ? NAMES[type]! : `type ${type}`;
}

export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Buffer;
}

/** Header and payload in one buffer. The caller keeps payloads within XS_PAYLOAD_MAX. */
export function encodeMessage(msg: XsMessage): Buffer {
  const out = Buffer.allocUnsafe(XS_HEADER_SIZE + msg.payload.length);
  out.writeUInt32LE(msg.type >>> 0, 0);
  out.writeUInt32LE(msg.reqId >>> 0, 4);
  out.writeUInt32LE(msg.txId >>> 0, 8);
  out.writeUInt32LE(msg.payload.length, 12);
  msg.payload.copy(out, XS_HEADER_SIZE);
  return out;
}

/** Strings each followed by a NUL, the shape of nearly every request and reply. */
export function nulTerminated(...parts: ReadonlyArray<string | Buffer>): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : p, NUL);
  }
  return Buffer.concat(chunks);
}

const NUL = Buffer.from([0]);

export const WIRE_ERROR_CODES = ['XS_WIRE_PAYLOAD_TOO_BIG', 'XS_WIRE_DECODER_FAILED'] as const;
export type WireErrorCode = typeof WIRE_ERROR_CODES[number];

export interface WireError {
  readonly code: WireErrorCode;
  readonly message: string;
}

export type DecodeResult =
  | { readonly kind: 'message'; readonly message: XsMessage }
  | { readonly kind: 'error'; readonly error: WireError };

type DecoderState = 'HEADER' | 'PAYLOAD' | 'FAILED';

export class FrameDecoder {
  private state: DecoderState = 'HEADER';
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private header: { type: number; reqId: number; txId: number; len: number } | null = null;

  constructor(private readonly payloadMax = XS_PAYLOAD_MAX) {}

  get failed(): boolean {
    return this.state === 'FAILED';
  }

  /** Bytes received but not yet part of a complete message. */
  get pendingBytes(): number {
    return this.buffered + (this.header ? XS_HEADER_SIZE : 0);
  }

  /**
   * Feeds bytes; returns the complete messages they finish, in order. After an error nothing
   * more is decoded: every later push returns one XS_WIRE_DECODER_FAILED error.
   */
  push(chunk: Uint8Array): DecodeResult[] {
    if (this.state === 'FAILED') {
      return [{ kind: 'error', error: { code: 'XS_WIRE_DECODER_FAILED', message: 'the stream already failed' } }];
    }
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.length;
    }
    const out: DecodeResult[] = [];
    for (;;) {
      if (this.state === 'HEADER') {
        if (this.buffered < XS_HEADER_SIZE) break;
        const h = this.take(XS_HEADER_SIZE);
        const len = h.readUInt32LE(12);
        if (len > this.payloadMax) {
          this.state = 'FAILED';
          this.chunks.length = 0;
          this.buffered = 0;
          out.push({
            kind: 'error',
            error: { code: 'XS_WIRE_PAYLOAD_TOO_BIG', message: `payload of ${len} bytes exceeds ${this.payloadMax}` },
          });
          break;
        }
        this.header = { type: h.readUInt32LE(0), reqId: h.readUInt32LE(4), txId: h.readUInt32LE(8), len };
        this.state = 'PAYLOAD';
      } else if (this.state === 'PAYLOAD') {
        const h = this.header!;
        if (this.buffered < h.len) break;
        const payload = h.len === 0 ? Buffer.alloc(0) : Buffer.from(this.take(h.len));
        out.push({ kind: 'message', message: { type: h.type, reqId: h.reqId, txId: h.txId, payload } });
        this.header = null;
        this.state = 'HEADER';
      } else {
        break;
      }
    }
    return out;
  }

  /** Removes `n` buffered bytes (n <= buffered); copies only when they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}
