// Frames lent from an arena: distinct within a batch, placed at the skew asked for, refused
// once the batch has used the arena up, and the same memory again after a reset.

import { expect } from 'chai';
import { FrameArena } from '../../src/common/frame-arena.js';

describe('frame arena', () => {
  it('lends frames of one batch that never share bytes, each at the skew asked for', () => {
    const arena = new FrameArena(64 * 1024);
    const asks = [[1500, 2], [60, 0], [4094, 2], [77, 5], [9000, 3], [300, 10]] as const;
    const got = asks.map(([len, skew]) => arena.alloc(len, skew)!);
    got.forEach((f, i) => {
      expect(f.length).to.equal(asks[i]![0]);
      expect(f.byteOffset % 8, `frame ${i}`).to.equal(asks[i]![1] % 8);
      f.fill(i + 1);
    });
    got.forEach((f, i) => expect(f.every((b) => b === i + 1), `frame ${i}`).to.equal(true));
  });

  it('refuses a frame the rest of the batch has no room for, alignment counted', () => {
    const arena = new FrameArena(8192);
    expect(arena.alloc(4096)).to.not.equal(null);
    expect(arena.alloc(4096, 2)).to.equal(null);
    expect(arena.alloc(4096)!.length).to.equal(4096);
    expect(arena.alloc(1)).to.equal(null);
  });

  it('lends the same memory again after a reset', () => {
    const arena = new FrameArena(16384);
    const first = arena.alloc(16000, 0)!;
    expect(arena.alloc(1000)).to.equal(null);
    arena.reset();
    const again = arena.alloc(1000, 0)!;
    expect(again.buffer).to.equal(first.buffer);
    expect(again.byteOffset).to.equal(first.byteOffset);
  });
});
