// Netback's tx rules, one case each (drivers/net/xen-netback/netback.c, xenvif_tx_build_gops): what is answered with an error,
// what is fatal, and that a good multi-slot packet is gathered in order with one response per
// slot (extras answered NETIF_RSP_NULL).

import { expect } from 'chai';
import { Logger } from '../../../src/common/log.js';
import { newCounters } from '../../../src/backend/netback/counters.js';
import { NetbackTx } from '../../../src/backend/netback/tx.js';
import {
  NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETTXF_extra_info, NETTXF_more_data, TX_SLOT_SIZE,
  readTxResponse, writeTxRequest,
} from '../../../src/protocol/netif.js';
import { BackRing, SharedRing } from '../../../src/protocol/ring.js';
import { testDomain } from '../../helpers/emulated-domain.js';

interface Slot { gref?: number; offset?: number; flags?: number; id?: number; size?: number; extra?: number[] }

function rig() {
  const { memory, table, grants } = testDomain(1);
  const ringGfn = memory.allocPage();
  const sring = new SharedRing(memory.page(ringGfn), TX_SLOT_SIZE);
  sring.init();
  const data = memory.allocPage();
  const page = memory.page(data);
  for (let i = 0; i < page.length; i++) page[i] = i & 0xff;
  const gref = table.grantAccess(0, data, true);
  const ring = BackRing.attach(sring);
  const frames: Uint8Array[] = [];
  let fatal: string | null = null;
  const stats = newCounters();
  const tx = new NetbackTx(ring, grants, 1, (f) => frames.push(f.slice()), stats, new Logger('test'), (m) => { fatal = m; });
  let prod = 0;
  return {
    gref, frames, stats, fatal: () => fatal,
    send(slots: Slot[]): number[] {
      const from = sring.rspProd;
      for (const s of slots) {
        const at = sring.slotOffset(prod++);
        if (s.extra) new Uint8Array(sring.page.buffer, sring.page.byteOffset + at, 8).set(s.extra);
        else writeTxRequest(sring.view, at, { gref: s.gref ?? gref, offset: s.offset ?? 0, flags: s.flags ?? 0, id: s.id ?? 0, size: s.size ?? 60 });
      }
      sring.reqProd = prod;
      tx.process();
      const out: number[] = [];
      for (let i = from; i !== sring.rspProd; i++) out.push(readTxResponse(sring.view, sring.slotOffset(i)).status);
      return out;
    },
    setReqProd(v: number): void { sring.reqProd = v; tx.process(); },
  };
}

const chain = (n: number, size = 10): Slot[] => Array.from({ length: n }, (_, i) =>
  ({ size: i === 0 ? n * size : size, offset: i * 16, flags: i < n - 1 ? NETTXF_more_data : 0, id: i }));

describe('netback tx rules', () => {
  it('gathers a multi-slot packet in slot order and answers each slot', () => {
    const r = rig();
    expect(r.send(chain(3, 20))).to.deep.equal([NETIF_RSP_OKAY, NETIF_RSP_OKAY, NETIF_RSP_OKAY]);
    expect(r.frames).to.have.length(1);
    const f = r.frames[0]!;
    expect(f.length).to.equal(60);
    expect([...f.subarray(0, 3)]).to.deep.equal([0, 1, 2]);
    expect([...f.subarray(20, 23)]).to.deep.equal([16, 17, 18]);
    expect([...f.subarray(40, 43)]).to.deep.equal([32, 33, 34]);
  });

  // As xenvif_count_requests(): the first slot plus 18 more pass, 19 or 20 more are dropped,
  // a 21st more is an attack.
  it('passes 1 + 18 slots, drops 1 + 19 and 1 + 20 with errors, and is fatal at 1 + 21', () => {
    const r = rig();
    expect(r.send(chain(19, 20))).to.deep.equal(Array(19).fill(NETIF_RSP_OKAY));
    expect(r.send(chain(20, 20))).to.deep.equal(Array(20).fill(NETIF_RSP_ERROR));
    expect(r.send(chain(21, 20))).to.deep.equal(Array(21).fill(NETIF_RSP_ERROR));
    expect(r.fatal()).to.equal(null);
    r.send(chain(22, 20));
    expect(r.fatal()).to.equal('Malicious frontend using 20 slots, threshold 20');
  });

  it('answers a slot larger than what remains, and a short first slot, with errors', () => {
    const r = rig();
    expect(r.send([{ size: 30, flags: NETTXF_more_data }, { size: 40 }])).to.deep.equal([NETIF_RSP_ERROR, NETIF_RSP_ERROR]);
    expect(r.send([{ size: 20, flags: NETTXF_more_data }, { size: 10 }])).to.deep.equal([NETIF_RSP_ERROR, NETIF_RSP_ERROR]);
    expect(r.fatal()).to.equal(null);
    expect(r.stats.txErrors).to.equal(2);
  });

  it('answers a multicast extra with OKAY and NULL and sends nothing', () => {
    const r = rig();
    expect(r.send([{ flags: NETTXF_extra_info }, { extra: [2, 0, 1, 0, 0x5e, 0, 0, 1] }])).to.deep.equal([NETIF_RSP_OKAY, NETIF_RSP_NULL]);
    expect(r.frames).to.have.length(0);
  });

  for (const [what, slots, reason] of [
    ['an extra of type 0', [{ flags: NETTXF_extra_info }, { extra: [0, 0, 0, 0, 0, 0, 0, 0] }], 'Invalid extra type: 0'],
    ['an extra of type 5', [{ flags: NETTXF_extra_info }, { extra: [5, 0, 0, 0, 0, 0, 0, 0] }], 'Invalid extra type: 5'],
    ['a missing extra', [{ flags: NETTXF_extra_info }], 'Missing extra info'],
    ['a GSO extra of size 0', [{ flags: NETTXF_extra_info }, { extra: [1, 0, 0, 0, 1, 0, 0, 0] }], 'GSO size must not be zero.'],
    ['a GSO extra of type 3', [{ flags: NETTXF_extra_info }, { extra: [1, 0, 0xb4, 5, 3, 0, 0, 0] }], 'Bad GSO type 3.'],
    ['a GSO packet that is not TCP', [{ flags: NETTXF_extra_info }, { extra: [1, 0, 0xb4, 5, 1, 0, 0, 0] }],
      'GSO packet without a valid header: ethertype 0xc0d for a TCPv4 GSO packet'],
    ['a more_data chain past req_prod', [{ size: 60, flags: NETTXF_more_data }], 'Asked for 0 slots but exceeds this limit'],
    ['a later slot crossing its page', [{ size: 100, flags: NETTXF_more_data }, { offset: 4090, size: 10 }],
      'Cross page boundary, txp->offset: 4090, size: 10'],
  ] as Array<[string, Slot[], string]>) {
    it(`disables the path on ${what}`, () => {
      const r = rig();
      r.send(slots);
      expect(r.fatal()).to.equal(reason);
      // Nothing more is read: a good packet afterwards stays unanswered.
      expect(r.send([{ size: 60 }])).to.deep.equal([]);
    });
  }

  it('disables the path on an impossible req_prod', () => {
    const r = rig();
    r.setReqProd(257);
    expect(r.fatal()).to.equal('Impossible number of requests. req_prod 257, req_cons 0, size 256');
  });
});
