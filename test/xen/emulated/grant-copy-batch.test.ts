// GNTTABOP_copy with an array of ops, as netback issues it per ring sweep: every op is checked
// on its own (a bad one fails alone, its page untouched), against a model of Xen's checks
// written out here independently of the table's own code.

import { expect } from 'chai';
import { Domain } from '../../../src/xen/emulated/domain.js';
import { GNTST } from '../../../src/xen/errors.js';
import { GrantCopyBatch } from '../../../src/xen/grant-copy-batch.js';
import { EmulatedGrants } from '../../../src/xen/emulated/grant-ops.js';
import { GTF } from '../../../src/xen/grant-abi.js';
import { PAGE_SIZE } from '../../../src/protocol/ring.js';
import { mulberry32 } from '../../helpers/prng.js';

const BACKEND = 0;

/** Dom0's grant operations on one guest's table. */
function dom0(guest: Domain): EmulatedGrants {
  return new EmulatedGrants(BACKEND, (domid) => (domid === guest.domid ? guest.grants : undefined));
}

describe('grant copies in batches', () => {
  it('copies the good ops of a batch and fails each bad one alone, leaving its page as it was', () => {
    const guest = new Domain(1, 'g');
    const a = guest.memory.allocPage();
    const b = guest.memory.allocPage();
    const refA = guest.grants.grantAccess(BACKEND, a, false);
    const refRo = guest.grants.grantAccess(BACKEND, b, true);
    const local = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    const batch = new GrantCopyBatch(4);
    batch.add(refA, 10, 0, 16);
    batch.add(refRo, 0, 16, 16);
    batch.add(refA, PAGE_SIZE - 8, 32, 16);
    batch.add(refA, 100, 48, 16);
    expect(dom0(guest).copy(1, true, batch, local)).to.equal(2);
    expect([0, 1, 2, 3].map((i) => batch.status(i))).to.deep.equal(
      [GNTST.okay, GNTST.permission_denied, GNTST.bad_copy_arg, GNTST.okay]);
    const pageA = guest.memory.page(a);
    expect([...pageA.subarray(10, 26)]).to.deep.equal([...local.subarray(0, 16)]);
    expect([...pageA.subarray(100, 116)]).to.deep.equal([...local.subarray(48, 64)]);
    expect(pageA.subarray(PAGE_SIZE - 8).every((x) => x === 0)).to.equal(true);
    expect(guest.memory.page(b).every((x) => x === 0)).to.equal(true);
  });

  it('refuses an op past its capacity rather than dropping it', () => {
    const batch = new GrantCopyBatch(1);
    batch.add(8, 0, 0, 1);
    expect(() => batch.add(9, 0, 0, 1)).to.throw(RangeError, /full/);
    expect(batch.count).to.equal(1);
  });

  it('gives every op of 20,000 random ones the status and the bytes of Xen\'s checks', () => {
    const rand = mulberry32(0x6e7);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const guest = new Domain(1, 'g');
    const frames = Array.from({ length: 8 }, () => guest.memory.allocPage());
    for (const f of frames) guest.memory.page(f).forEach((_, i, p) => { p[i] = (f * 31 + i) & 0xff; });
    const known = guest.memory.pagesInUse;
    // Entries of every kind: valid, readonly, for another domain, invalid, past the domain's frames.
    const refs: number[] = [];
    for (let i = 0; i < 64; i++) {
      const ref = 8 + i;
      const flags = [GTF.permit_access, GTF.permit_access | GTF.readonly, 0, 2, 3][int(0, 4)]!;
      const domid = rand() < 0.8 ? BACKEND : int(1, 3);
      const frame = rand() < 0.85 ? frames[int(0, frames.length - 1)]! : int(known, known + 1000) >>> 0;
      guest.grants.writeEntry(ref, { flags, domid, frame });
      refs.push(ref);
    }
    const modelStatus = (ref: number, offset: number, localOffset: number, len: number, local: number,
      toPage: boolean): number => {
      if (offset < 0 || len < 0 || offset + len > PAGE_SIZE || localOffset < 0 || localOffset + len > local) {
        return GNTST.bad_copy_arg;
      }
      if (ref < 0 || ref >= guest.grants.nrEntries) return GNTST.bad_gntref;
      const e = guest.grants.readEntry(ref);
      if ((e.flags & 3) !== GTF.permit_access) return GNTST.bad_gntref;
      if (e.domid !== BACKEND) return GNTST.permission_denied;
      if (toPage && e.flags & GTF.readonly) return GNTST.permission_denied;
      if (e.frame >= known) return GNTST.bad_page;
      return GNTST.okay;
    };
    const local = new Uint8Array(8192);
    const batch = new GrantCopyBatch(50);
    for (let round = 0; round < 400; round++) {
      const toPage = rand() < 0.5;
      local.forEach((_, i, l) => { l[i] = int(0, 255); });
      const before = frames.map((f) => guest.memory.page(f).slice());
      const localBefore = local.slice();
      const ops: Array<[number, number, number, number]> = [];
      batch.clear();
      for (let i = 0; i < batch.capacity; i++) {
        const ref = rand() < 0.9 ? refs[int(0, refs.length - 1)]! : int(-5, guest.grants.nrEntries + 5);
        const len = rand() < 0.1 ? int(-4, PAGE_SIZE + 4) : int(0, 256);
        const offset = rand() < 0.1 ? int(-4, PAGE_SIZE + 4) : int(0, PAGE_SIZE - len);
        // Ops of one batch never overlap in local memory, as a sweep's never do.
        const localOffset = rand() < 0.05 ? int(-4, 8200) : i * 160;
        ops.push([ref, offset, localOffset, Math.min(len, rand() < 0.1 ? len : 160)]);
        batch.add(...ops[i]!);
      }
      const failures = dom0(guest).copy(1, toPage, batch, local);
      let expectedFailures = 0;
      const expectPages = before.map((p) => p.slice());
      const expectLocal = localBefore.slice();
      ops.forEach(([ref, offset, localOffset, len], i) => {
        const status = modelStatus(ref, offset, localOffset, len, local.length, toPage);
        expect(batch.status(i), `round ${round} op ${i}`).to.equal(status);
        if (status !== GNTST.okay) { expectedFailures++; return; }
        const page = expectPages[frames.indexOf(guest.grants.readEntry(ref).frame)]!;
        if (toPage) page.set(localBefore.subarray(localOffset, localOffset + len), offset);
        else expectLocal.set(before[frames.indexOf(guest.grants.readEntry(ref).frame)]!.subarray(offset, offset + len), localOffset);
      });
      expect(failures).to.equal(expectedFailures);
      frames.forEach((f, i) => expect(Buffer.compare(guest.memory.page(f), expectPages[i]!), `round ${round} frame ${f}`).to.equal(0));
      expect(Buffer.compare(local, expectLocal), `round ${round} local`).to.equal(0);
    }
  });
});
