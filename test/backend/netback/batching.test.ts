// The datapath's batching keeps per-frame behaviour: rx pushes a batch's responses once, after
// its last frame, and notifies at most once; tx frames are lent to the peer for the call, so
// a peer that copies what it keeps has every frame as the guest sent it, however many sweeps
// later it looks.

import { expect } from 'chai';
import { Logger } from '../../../src/common/log.js';
import { newCounters } from '../../../src/backend/netback/counters.js';
import { NetbackRx } from '../../../src/backend/netback/rx.js';
import { NetbackTx } from '../../../src/backend/netback/tx.js';
import { RX_SLOT_SIZE, TX_SLOT_SIZE, readRxResponse, writeRxRequest, writeTxRequest } from '../../../src/protocol/netif.js';
import { BackRing, SharedRing } from '../../../src/protocol/ring.js';
import { testDomain } from '../../helpers/emulated-domain.js';

function platform() {
  return testDomain(1);
}

function rxRig(posted: number) {
  const { memory, table, grants } = platform();
  const sring = new SharedRing(memory.page(memory.allocPage()), RX_SLOT_SIZE);
  sring.init();
  for (let i = 0; i < posted; i++) {
    writeRxRequest(sring.view, sring.slotOffset(i), { id: i, gref: table.grantAccess(0, memory.allocPage(), false) });
  }
  sring.reqProd = posted;
  const stats = newCounters();
  const rx = new NetbackRx(BackRing.attach(sring), grants, 1, stats, new Logger('test'));
  return { sring, rx, stats };
}

function txRig() {
  const { memory, table, grants } = platform();
  const sring = new SharedRing(memory.page(memory.allocPage()), TX_SLOT_SIZE);
  sring.init();
  const pages = Array.from({ length: 256 }, () => memory.allocPage());
  const grefs = pages.map((gfn) => table.grantAccess(0, gfn, true));
  const frames: Uint8Array[] = [];
  /** Each frame as deliver() saw it, whether or not the peer copied it. */
  const lent: Uint8Array[] = [];
  const tx = new NetbackTx(BackRing.attach(sring), grants, 1, (f) => { lent.push(f); frames.push(f.slice()); },
    newCounters(), new Logger('test'),
    (m) => { throw new Error(`fatal: ${m}`); });
  let prod = 0;
  /** One sweep of `n` frames of `size` bytes, frame k filled with the byte (tag + k) & 0xff. */
  const sweep = (n: number, size: number, tag: number): void => {
    for (let k = 0; k < n; k++) {
      const slot = prod & 255;
      memory.page(pages[slot]!).fill((tag + k) & 0xff, 0, size);
      writeTxRequest(sring.view, sring.slotOffset(prod), { gref: grefs[slot]!, offset: 0, flags: 0, id: slot, size });
      prod++;
    }
    sring.reqProd = prod;
    tx.process();
  };
  return { frames, lent, sweep };
}

const frameOf = (len: number, fill: number): Uint8Array => new Uint8Array(len).fill(fill);

describe('datapath batching', () => {
  it('pushes an rx batch\'s responses once, after its last frame, and asks for one notification', () => {
    const { sring, rx, stats } = rxRig(8);
    expect(rx.receive(frameOf(60, 1), undefined, false)).to.equal(false);
    expect(rx.receive(frameOf(5000, 2), undefined, false)).to.equal(false); // too big: dropped, as before
    expect(rx.receive(frameOf(70, 3), undefined, false)).to.equal(false);
    expect(sring.rspProd).to.equal(0);
    expect(rx.receive(frameOf(80, 4), undefined, true)).to.equal(true);
    expect(sring.rspProd).to.equal(3);
    expect([0, 1, 2].map((i) => readRxResponse(sring.view, sring.slotOffset(i)).status)).to.deep.equal([60, 70, 80]);
    expect(stats.rxPackets).to.equal(3);
    expect(stats.rxDropped).to.equal(1);
  });

  it('answers a single frame as before: pushed at once', () => {
    const { sring, rx } = rxRig(2);
    expect(rx.receive(frameOf(60, 1))).to.equal(true);
    expect(sring.rspProd).to.equal(1);
  });

  it('queues the frames of a batch that find no buffer and pushes those placed', () => {
    const { sring, rx } = rxRig(2);
    for (let i = 0; i < 4; i++) rx.receive(frameOf(60 + i, i), undefined, i < 3 ? false : undefined);
    expect(sring.rspProd).to.equal(2);
    expect(rx.queued).to.equal(2);
  });

  it('keeps every tx frame the guest\'s bytes, each its own, across sweeps, to a peer that copies what it keeps', () => {
    const { frames, sweep } = txRig();
    for (let s = 0; s < 6; s++) sweep(200, 1500, s * 7);
    expect(frames).to.have.length(1200);
    frames.forEach((f, i) => {
      const want = ((Math.floor(i / 200) * 7) + (i % 200)) & 0xff;
      expect(f.length).to.equal(1500);
      expect(f.every((b) => b === want), `frame ${i}`).to.equal(true);
    });
    frames[0]!.fill(0xee);
    expect(frames[1]![0]).to.equal(1);
  });

  it('lends frames of exactly their own length, never showing an earlier, longer frame\'s bytes', () => {
    const { frames, sweep } = txRig();
    sweep(1, 1500, 0x11);
    sweep(1, 60, 0x22);
    sweep(1, 1500, 0x33);
    expect(frames.map((f) => f.length)).to.deep.equal([1500, 60, 1500]);
    expect(frames[1]!.every((b) => b === 0x22)).to.equal(true);
    expect(frames[2]!.every((b) => b === 0x33)).to.equal(true);
  });

  it('reuses the lent bytes in the next sweep: a peer that keeps a frame must copy it', () => {
    const { frames, lent, sweep } = txRig();
    sweep(1, 100, 0x40);
    sweep(1, 100, 0x41);
    expect(frames[0]!.every((b) => b === 0x40)).to.equal(true);
    // What was lent for the first frame now holds the second: the copy kept the first intact.
    expect(lent[0]!.every((b) => b === 0x41)).to.equal(true);
  });

  it('copies a sweep\'s one-slot frames together yet sends and answers each in ring order', () => {
    const { frames, lent, sweep } = txRig();
    sweep(3, 100, 0x50);
    expect(frames.map((f) => f[0])).to.deep.equal([0x50, 0x51, 0x52]);
    // Frames of one batch are lent side by side: none overwrote another before it was sent.
    expect(lent.map((f) => f[0])).to.deep.equal([0x50, 0x51, 0x52]);
  });
});

describe('zero-copy tx (plain one-slot frames written from the guest\'s page)', () => {
  /** 200 requests: plain ones, one with a blank checksum, one with an ungranted gref. */
  function rig() {
    const { memory, table, grants } = platform();
    const sring = new SharedRing(memory.page(memory.allocPage()), TX_SLOT_SIZE);
    sring.init();
    const pages = Array.from({ length: 256 }, () => memory.allocPage());
    const grefs = pages.map((gfn) => table.grantAccess(0, gfn, true));
    const held: Array<{ at: number; len: number }> = [];
    /** At each flush: what the held frames hold, and how many responses the guest could see then. */
    const flushes: Array<{ frames: number[][]; published: number }> = [];
    const copied: Uint8Array[] = [];
    /** Each frame's tag in the order the peer was handed it, copied or in place. */
    const order: number[] = [];
    const stats = newCounters();
    const tx = new NetbackTx(BackRing.attach(sring), grants, 1, (f) => { copied.push(f.slice()); order.push(f[0]!); }, stats,
      new Logger('test'), (m) => { throw new Error(`fatal: ${m}`); }, false, {
        deliver: (m, at, len) => {
          expect(m).to.equal(memory.bytes);
          held.push({ at, len });
          order.push(m[at]!);
        },
        flush: () => {
          flushes.push({ frames: held.splice(0).map(({ at, len }) => [memory.bytes[at + 14]!, len]), published: sring.rspProd });
        },
      });
    for (let k = 0; k < 200; k++) {
      memory.page(pages[k]!).fill(k, 0, 4096);
      const flags = k === 70 || k === 150 ? 1 /* csum_blank */ : 0;
      writeTxRequest(sring.view, sring.slotOffset(k), { gref: k === 71 ? 20000 : grefs[k]!, offset: 8, flags, id: k, size: 60 });
    }
    sring.reqProd = 200;
    tx.process();
    return { sring, flushes, copied, order, stats };
  }

  it('writes every plain frame before the response that gives its page back is published', () => {
    const { flushes, sring } = rig();
    // Request k is answered in response slot k: at the flush that writes frame k, rsp_prod is not past it.
    for (const f of flushes) {
      for (const [tag] of f.frames) expect(f.published).to.be.at.most(tag!);
    }
    expect(flushes.length).to.be.greaterThan(1);
    expect(sring.rspProd).to.equal(200);
    const tags = flushes.flatMap((f) => f.frames.map(([tag]) => tag));
    expect(tags).to.deep.equal([...Array(200).keys()].filter((k) => k !== 70 && k !== 71 && k !== 150));
    expect(flushes.every((f) => f.frames.every(([, len]) => len === 60))).to.equal(true);
  });

  it('copies a frame whose checksum is blank, and answers an ungranted gref with an error', () => {
    const { copied, stats } = rig();
    expect(copied.map((f) => f[14])).to.deep.equal([70, 150]);
    expect(stats).to.include({ txPackets: 199, txErrors: 1 });
  });

  it('hands the peer copied and in-place frames in ring order', () => {
    const { order } = rig();
    expect(order).to.deep.equal([...Array(200).keys()].filter((k) => k !== 71));
  });
});
