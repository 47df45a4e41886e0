// Frames carved from slabs never share bytes, and start where they were asked to within a word.

import { expect } from 'chai';
import { FrameSlab } from '../../src/common/frame-slab.js';

describe('frame slab', () => {
  it('hands out frames that never share bytes, small, slab-sized and large', () => {
    const slab = new FrameSlab();
    const got = [8, 64, 65, 1500, 1500, 9000, 20000, 1500].map((n) => slab.alloc(n));
    got.forEach((f, i) => f.fill(i + 1));
    got.forEach((f, i) => expect(f.every((b) => b === i + 1), `frame ${i}`).to.equal(true));
  });

  it('starts each frame at the skew asked for, modulo 8, whatever came before', () => {
    const slab = new FrameSlab();
    for (const [len, skew] of [[1500, 2], [100, 0], [77, 5], [4096, 2], [20000, 3], [300, 10]] as const) {
      const f = slab.alloc(len, skew);
      expect(f.length).to.equal(len);
      expect(f.byteOffset % 8, `${len}@${skew}`).to.equal(skew % 8);
    }
  });

  it('fills a fresh slab once the current one has no room', () => {
    const slab = new FrameSlab();
    const frames = Array.from({ length: 200 }, () => slab.alloc(1500, 2));
    expect(new Set(frames.map((f) => f.buffer)).size).to.be.greaterThan(1);
    frames.forEach((f, i) => f.fill(i & 0xff));
    frames.forEach((f, i) => expect(f.every((b) => b === (i & 0xff)), `frame ${i}`).to.equal(true));
  });
});
