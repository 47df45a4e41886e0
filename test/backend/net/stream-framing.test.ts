// The 4-byte big-endian length framing of -netdev stream: round trips, frames split at every
// byte, several in one chunk, and a length no frame can have.

import { expect } from 'chai';
import { encodeStreamFrame, MAX_STREAM_FRAME, StreamFrameDecoder } from '../../../src/backend/net/stream-framing.js';

describe('stream framing (net/stream.c)', () => {
  it('prefixes a frame with its length, big-endian', () => {
    expect([...encodeStreamFrame(Uint8Array.of(0xaa, 0xbb, 0xcc))]).to.deep.equal([0, 0, 0, 3, 0xaa, 0xbb, 0xcc]);
  });

  it('returns each frame once whether it arrives byte by byte or several at once', () => {
    const a = Uint8Array.from({ length: 60 }, (_, i) => i);
    const b = Uint8Array.from({ length: 1514 }, (_, i) => (i * 7) & 0xff);
    const wire = new Uint8Array([...encodeStreamFrame(a), ...encodeStreamFrame(b)]);
    const whole = new StreamFrameDecoder().push(wire);
    expect(whole.error).to.equal(null);
    expect(whole.frames).to.deep.equal([a, b]);
    const dec = new StreamFrameDecoder();
    const got: Uint8Array[] = [];
    for (const byte of wire) got.push(...dec.push(Uint8Array.of(byte)).frames);
    expect(got).to.deep.equal([a, b]);
  });

  it('skips zero-length records', () => {
    const r = new StreamFrameDecoder().push(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 9));
    expect(r.frames).to.deep.equal([Uint8Array.of(9)]);
  });

  it('reports a length above QEMU\'s NET_BUFSIZE, after the frames before it', () => {
    const bad = new Uint8Array(4);
    new DataView(bad.buffer).setUint32(0, MAX_STREAM_FRAME + 1);
    const r = new StreamFrameDecoder().push(new Uint8Array([...encodeStreamFrame(Uint8Array.of(1)), ...bad]));
    expect(r.frames).to.deep.equal([Uint8Array.of(1)]);
    expect(r.error).to.match(/exceeds 69632/);
  });
});
