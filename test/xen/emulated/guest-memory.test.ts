// Guest memory hands out runs of consecutive pages (netfront's rx ring lies in one) from freed
// pages first, from fresh ones otherwise, and says so when no run fits.

import { expect } from 'chai';
import { PAGE_SIZE } from '../../../src/protocol/ring.js';
import { GuestMemory } from '../../../src/xen/emulated/guest-memory.js';

describe('guest memory: runs of pages', () => {
  it('hands out a run of fresh consecutive pages, zeroed and allocated', () => {
    const mem = new GuestMemory(1, 1024);
    mem.allocPage();
    const first = mem.allocRun(300)!;
    expect(first).to.equal(1);
    for (let gfn = first; gfn < first + 300; gfn++) expect(mem.isAllocated(gfn), `gfn ${gfn}`).to.equal(true);
    expect(mem.bytes.subarray(first * PAGE_SIZE, (first + 300) * PAGE_SIZE).every((b) => b === 0)).to.equal(true);
    expect(mem.allocPage()).to.equal(301);
  });

  it('takes a run of freed pages before fresh ones, cleared of what they held', () => {
    const mem = new GuestMemory(1, 1024);
    const run = mem.allocRun(16)!;
    mem.page(run + 3).fill(0xaa);
    const after = mem.allocPage();
    for (let gfn = run; gfn < run + 16; gfn++) mem.freePage(gfn);
    mem.freePage(after);
    expect(mem.allocRun(17), 'the freed pages make a run of 17').to.equal(run);
    expect(mem.page(run + 3).every((b) => b === 0)).to.equal(true);
    expect(mem.pagesInUse).to.equal(17);
  });

  it('skips freed pages that are not consecutive, and returns null when no run fits', () => {
    const mem = new GuestMemory(1, 40);
    const pages = Array.from({ length: 30 }, () => mem.allocPage());
    for (const gfn of pages) if (gfn % 2 === 0) mem.freePage(gfn);
    expect(mem.allocRun(4)).to.equal(30);
    expect(mem.allocRun(7)).to.equal(null);
    expect(mem.allocPage(), 'single pages still come from the free list').to.be.below(30);
  });
});
