// The wire codec: the framer's bytes, the decoder's states across arbitrary cuts, its one limit,
// and a property: any byte stream, cut anywhere, yields the same messages, or stops at exactly
// one error.

import { expect } from 'chai';
import fc from 'fast-check';
import {
  encodeMessage, FrameDecoder, msgTypeName, nulTerminated, XsMsgType, XS_HEADER_SIZE, XS_PAYLOAD_MAX,
  type DecodeResult, type XsMessage,
} from '../../../../src/xen/xenstore/wire/codec.js';

function messages(results: DecodeResult[]): XsMessage[] {
  return results.map((r) => {
    if (r.kind !== 'message') throw new Error(`unexpected ${r.error.code}`);
    return r.message;
  });
}

const read: XsMessage = { type: XsMsgType.READ, reqId: 7, txId: 3, payload: Buffer.from('/a\0') };

describe('xenstore wire codec', () => {
  it('frames a message as four little-endian u32 then the payload', () => {
    expect(encodeMessage(read).toString('hex')).to.equal(
      '02000000' + '07000000' + '03000000' + '03000000' + Buffer.from('/a\0').toString('hex'));
  });

  it('names the message types and says which number an unknown one had', () => {
    expect(msgTypeName(XsMsgType.WATCH_EVENT)).to.equal('WATCH_EVENT');
    expect(msgTypeName(26)).to.equal('SET_QUOTA');
    expect(msgTypeName(27)).to.equal('type 27');
  });

  it('joins NUL-terminated arguments', () => {
    expect(nulTerminated('/p', 'tok')).to.deep.equal(Buffer.from('/p\0tok\0'));
  });

  it('decodes a byte literal and an empty payload', () => {
    const bytes = Buffer.from('0600000001000000000000000000000015000000ffffffff0000000000000000', 'hex');
    const out = messages(new FrameDecoder().push(bytes));
    expect(out).to.have.length(2);
    expect(out[0]).to.include({ type: 6, reqId: 1, txId: 0 });
    expect(out[0]!.payload.length).to.equal(0);
    expect(out[1]).to.include({ type: 0x15, reqId: 0xffffffff, txId: 0 });
  });

  it('reassembles a header and payload split across writes, one byte at a time', () => {
    const d = new FrameDecoder();
    const bytes = encodeMessage(read);
    const out: XsMessage[] = [];
    for (const b of bytes) out.push(...messages(d.push(Buffer.from([b]))));
    expect(out).to.deep.equal([read]);
    expect(d.pendingBytes).to.equal(0);
  });

  it('waits for a payload that a header promises but that has not come yet', () => {
    const d = new FrameDecoder();
    const h = encodeMessage({ ...read, payload: Buffer.alloc(100) }).subarray(0, XS_HEADER_SIZE + 10);
    expect(d.push(h)).to.deep.equal([]);
    expect(d.pendingBytes).to.equal(XS_HEADER_SIZE + 10);
  });

  it('accepts a 4096-byte payload', () => {
    const big = { ...read, type: XsMsgType.WRITE, payload: Buffer.alloc(XS_PAYLOAD_MAX, 0x61) };
    expect(messages(new FrameDecoder().push(encodeMessage(big)))).to.deep.equal([big]);
  });

  it('fails on a 4097-byte length with a stable code, once, and decodes nothing after', () => {
    const d = new FrameDecoder();
    const header = Buffer.alloc(XS_HEADER_SIZE);
    header.writeUInt32LE(XS_PAYLOAD_MAX + 1, 12);
    const out = d.push(Buffer.concat([encodeMessage(read), header, encodeMessage(read)]));
    expect(out).to.have.length(2);
    expect(out[0]!.kind).to.equal('message');
    expect(out[1]).to.deep.include({ kind: 'error' });
    expect((out[1] as { error: { code: string } }).error.code).to.equal('XS_WIRE_PAYLOAD_TOO_BIG');
    expect(d.failed).to.equal(true);
    const later = d.push(encodeMessage(read));
    expect(later).to.have.length(1);
    expect((later[0] as { error: { code: string } }).error.code).to.equal('XS_WIRE_DECODER_FAILED');
  });

  it('has no opinion on types: unknown ones are decoded for the request layer to refuse', () => {
    const odd = { type: 0xffff, reqId: 1, txId: 0, payload: Buffer.from('x') };
    expect(messages(new FrameDecoder().push(encodeMessage(odd)))).to.deep.equal([odd]);
  });

  const message = fc.record({
    type: fc.integer({ min: 0, max: 0xffffffff }),
    reqId: fc.integer({ min: 0, max: 0xffffffff }),
    txId: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  });

  it('property: encoded messages come back unchanged however the stream is cut', () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
      const stream = Buffer.concat(msgs.map(encodeMessage));
      const d = new FrameDecoder();
      const out: XsMessage[] = [];
      let at = 0;
      for (const c of [...cuts.map((n) => n % (stream.length + 1))].sort((a, b) => a - b)) {
        out.push(...messages(d.push(stream.subarray(at, Math.max(at, c)))));
        at = Math.max(at, c);
      }
      out.push(...messages(d.push(stream.subarray(at))));
      expect(out).to.deep.equal(msgs);
    }));
  });

  it('property: any bytes give whole messages, then at most one error, never a throw', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), (chunks) => {
      const d = new FrameDecoder(64);
      const all: DecodeResult[] = [];
      for (const c of chunks) {
        if (d.failed) break;
        all.push(...d.push(c));
      }
      const errors = all.filter((r) => r.kind === 'error');
      expect(errors.length).to.be.at.most(1);
      if (errors.length === 1) expect(all[all.length - 1]!.kind).to.equal('error');
      const consumed = all.filter((r) => r.kind === 'message')
        .reduce((n, r) => n + XS_HEADER_SIZE + (r as { message: XsMessage }).message.payload.length, 0);
      const total = chunks.reduce((n, c) => n + c.length, 0);
      if (!d.failed) expect(total - consumed).to.equal(d.pendingBytes);
    }));
  });
});
