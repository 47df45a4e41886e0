// Grant table v1 checks on every use: ref range, permit_access, grantee domid, readonly,
// frame validity, copies inside one page; and the in-use rule for revoking.

import { expect } from 'chai';
import { Domain } from '../../../src/xen/emulated/domain.js';
import { GNTST, GrantError } from '../../../src/xen/errors.js';
import { EmulatedGrants } from '../../../src/xen/emulated/grant-ops.js';
import { GTF } from '../../../src/xen/grant-abi.js';

describe('grant table v1', () => {
  let guest: Domain;
  /** Dom0's grant operations on the guest's table (the hypervisor's side). */
  let dom0: EmulatedGrants;
  let gfn: number;

  beforeEach(() => {
    guest = new Domain(1, 'g');
    dom0 = new EmulatedGrants(0, (domid) => (domid === 1 ? guest.grants : undefined));
    gfn = guest.memory.allocPage();
    guest.memory.page(gfn).set([1, 2, 3, 4], 100);
  });

  it('never hands out the reserved refs 0-7', () => {
    expect(guest.grants.grantAccess(0, gfn, false)).to.be.at.least(8);
  });

  it('maps a page granted to the caller and sees the guest bytes', () => {
    const ref = guest.grants.grantAccess(0, gfn, true);
    const m = dom0.mapRef(1, ref, false);
    expect([...m.page.subarray(100, 104)]).to.deep.equal([1, 2, 3, 4]);
    expect(guest.grants.readEntry(ref).flags & GTF.reading).to.equal(GTF.reading);
    m.unmap();
    expect(guest.grants.readEntry(ref).flags & GTF.reading).to.equal(0);
  });

  it('refuses a writable map of a readonly grant with permission_denied', () => {
    const ref = guest.grants.grantAccess(0, gfn, true);
    expect(() => dom0.mapRef(1, ref, true)).to.throw(GrantError, /permission denied/);
  });

  it('refuses a grant made out to another domain', () => {
    const ref = guest.grants.grantAccess(2, gfn, false);
    expect(dom0.copyFrom(1, ref, 0, new Uint8Array(4), 0, 4)).to.equal(GNTST.permission_denied);
  });

  it('refuses refs that were never granted, or are out of range', () => {
    expect(dom0.copyFrom(1, 3000, 0, new Uint8Array(4), 0, 4)).to.equal(GNTST.bad_gntref);
    expect(dom0.copyFrom(1, 1 << 20, 0, new Uint8Array(4), 0, 4)).to.equal(GNTST.bad_gntref);
    expect(() => dom0.mapRef(1, -1, false)).to.throw(GrantError, /invalid grant reference/);
  });

  it('refuses a grant of a frame the domain does not have', () => {
    const ref = guest.grants.grantAccess(0, 999999, false);
    expect(dom0.copyFrom(1, ref, 0, new Uint8Array(4), 0, 4)).to.equal(GNTST.bad_page);
  });

  it('refuses copies that cross the page', () => {
    const ref = guest.grants.grantAccess(0, gfn, false);
    expect(dom0.copyTo(1, ref, 4000, new Uint8Array(200), 0, 200)).to.equal(GNTST.bad_copy_arg);
    expect(dom0.copyTo(1, ref, 3896, new Uint8Array(200), 0, 200)).to.equal(GNTST.okay);
  });

  it('copies exact bytes both ways whatever the alignment of either end, and nothing around them', () => {
    const ref = guest.grants.grantAccess(0, gfn, false);
    const page = guest.memory.page(gfn);
    for (const len of [1, 60, 127, 128, 1500, 4094]) {
      for (const offset of [0, 2, 5, 4096 - len].filter((o) => o + len <= 4096)) {
        for (const local of [0, 3, 10]) {
          const src = new Uint8Array(local + len + 16).map((_, i) => (i * 31 + len) & 0xff);
          page.fill(0xaa);
          expect(dom0.copyTo(1, ref, offset, src, local, len)).to.equal(GNTST.okay);
          expect(Buffer.compare(page.subarray(offset, offset + len), src.subarray(local, local + len)), `to ${len}@${offset}`)
            .to.equal(0);
          expect(page[offset - 1] ?? 0xaa).to.equal(0xaa);
          expect(page[offset + len] ?? 0xaa).to.equal(0xaa);
          const dst = new Uint8Array(local + len + 16).fill(0x55);
          expect(dom0.copyFrom(1, ref, offset, dst, local, len)).to.equal(GNTST.okay);
          expect(Buffer.compare(dst.subarray(local, local + len), src.subarray(local, local + len)), `from ${len}@${offset}`)
            .to.equal(0);
          expect(dst[local - 1] ?? 0x55).to.equal(0x55);
          expect(dst[local + len]).to.equal(0x55);
        }
      }
    }
  });

  it('refuses copies with a negative offset or length', () => {
    const ref = guest.grants.grantAccess(0, gfn, false);
    const dst = new Uint8Array(64);
    expect(dom0.copyFrom(1, ref, -2, dst, 0, 10)).to.equal(GNTST.bad_copy_arg);
    expect(dom0.copyFrom(1, ref, 0, dst, -2, 10)).to.equal(GNTST.bad_copy_arg);
    expect(dom0.copyTo(1, ref, 0, dst, 0, -1)).to.equal(GNTST.bad_copy_arg);
  });

  it('keeps a mapped grant from being revoked, and frees it after unmap', () => {
    const ref = guest.grants.grantAccess(0, gfn, false);
    const m = dom0.mapRef(1, ref, true);
    expect(guest.grants.readEntry(ref).flags & GTF.writing).to.equal(GTF.writing);
    expect(guest.grants.endAccess(ref)).to.equal(false);
    m.unmap();
    m.unmap();
    expect(guest.grants.releaseRef(ref)).to.equal(true);
    expect(dom0.copyFrom(1, ref, 0, new Uint8Array(1), 0, 1)).to.equal(GNTST.bad_gntref);
  });
});

describe('grant table seen from a datapath thread', () => {
  it('checks and copies exactly as the owner does, and sees frames allocated after it attached', async () => {
    const { Worker } = await import('node:worker_threads');
    const guest = new Domain(1, 'g');
    const src = guest.memory.allocPage();
    guest.memory.page(src).set([9, 8, 7, 6], 40);
    const readable = guest.grants.grantAccess(0, src, true);
    const worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      Promise.all([import(workerData.table), import(workerData.ops)]).then(([{ GrantTable }, { EmulatedGrants }]) => {
        const g = GrantTable.attach(workerData.shared);
        const dom0 = new EmulatedGrants(0, (domid) => (domid === 1 ? g : undefined));
        const dom5 = new EmulatedGrants(5, (domid) => (domid === 1 ? g : undefined));
        parentPort.on('message', (m) => {
          const buf = new Uint8Array(8);
          const read = dom0.copyFrom(1, m.readable, 40, buf, 0, 4);
          const wrongDomain = dom5.copyFrom(1, m.readable, 40, buf, 0, 4);
          const readonlyWrite = dom0.copyTo(1, m.readable, 0, buf, 0, 4);
          const badRef = dom0.copyFrom(1, 1 << 20, 0, buf, 0, 4);
          const crossing = dom0.copyFrom(1, m.readable, 4094, buf, 0, 4);
          const wrote = dom0.copyTo(1, m.writable, 100, buf, 0, 4);
          parentPort.postMessage({ bytes: [...buf.subarray(0, 4)], read, wrongDomain, readonlyWrite, badRef, crossing, wrote });
        });
        parentPort.postMessage('ready');
      });`, { eval: true, workerData: { shared: guest.grants.shared(),
      table: new URL('../../../src/xen/emulated/grant-table.js', import.meta.url).href,
      ops: new URL('../../../src/xen/emulated/grant-ops.js', import.meta.url).href } });
    try {
      await new Promise((r) => worker.once('message', r));
      // Allocated after the worker attached: the shared watermark makes it a valid frame there.
      const dst = guest.memory.allocPage();
      const writable = guest.grants.grantAccess(0, dst, false);
      worker.postMessage({ readable, writable });
      const r = await new Promise<Record<string, unknown>>((res) => worker.once('message', res));
      expect(r).to.deep.equal({
        bytes: [9, 8, 7, 6], read: GNTST.okay, wrongDomain: GNTST.permission_denied,
        readonlyWrite: GNTST.permission_denied, badRef: GNTST.bad_gntref, crossing: GNTST.bad_copy_arg, wrote: GNTST.okay,
      });
      expect([...guest.memory.page(dst).subarray(100, 104)]).to.deep.equal([9, 8, 7, 6]);
    } finally {
      await worker.terminate();
    }
  });
});
