// The guest TCP's send queue: bytes come out as they went in, whatever the chunking of the
// writes, the acknowledgments and the segments cut from it.

import { expect } from 'chai';
import { SendQueue } from '../../src/guest/tcp-send-queue.js';

describe('guest TCP send queue', () => {
  it('copies any range across chunk boundaries, before and after acknowledged bytes are dropped', () => {
    let x = 99;
    const rand = (n: number): number => (x = (x * 1103515245 + 12345) >>> 0) % n;
    const stream = Uint8Array.from({ length: 20000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const q = new SendQueue();
    for (let at = 0; at < stream.length;) {
      const n = Math.min(1 + rand(900), stream.length - at);
      q.push(stream.subarray(at, at + n));
      at += n;
    }
    expect(q.length).to.equal(stream.length);
    let base = 0;
    for (let round = 0; round < 300 && q.length > 0; round++) {
      const from = rand(q.length);
      const len = 1 + rand(Math.min(3000, q.length - from));
      const out = new Uint8Array(len + 3);
      q.copyTo(out, 3, from, len);
      expect(Buffer.from(out.subarray(3)).equals(Buffer.from(stream.subarray(base + from, base + from + len))),
        `bytes ${base + from}..${base + from + len}`).to.equal(true);
      if (round % 3 === 0) {
        const n = rand(Math.min(400, q.length) + 1);
        q.drop(n);
        base += n;
        expect(q.length).to.equal(stream.length - base);
      }
    }
  });

  it('refuses to copy or drop more than it holds', () => {
    const q = new SendQueue();
    q.push(new Uint8Array(10));
    expect(() => q.copyTo(new Uint8Array(20), 0, 5, 6)).to.throw(RangeError, /5\.\.11 of 10/);
    expect(() => q.drop(11)).to.throw(RangeError, /11 of 10/);
  });
});
