import { expect } from 'chai';
import type { Netfront } from '../../src/guest/netfront.js';
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpFrame, BROADCAST_MAC, decodeArp, decodeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4,
  formatIpv4, parseIpv4, parseMac, ZERO_MAC,
} from '../../src/guest/packet.js';
import { NetStack } from '../../src/guest/stack.js';
import type { GuestXs } from '../../src/guest/xs.js';
import {
  NET_TX_RING_SIZE, NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETRXF_extra_info, NETRXF_more_data, NETTXF_csum_blank,
  NETTXF_data_validated, NETTXF_extra_info, NETTXF_more_data,
} from '../../src/protocol/netif.js';
import { XenbusState } from '../../src/protocol/xenbus.js';
import { GTF } from '../../src/xen/grant-abi.js';
import { XsError, type XsConnection } from '../../src/xen/xenstore/index.js';
import { connected, eventually, GUEST_DOMID, rig, type Rig } from './harness.js';
import type { QemuPeer } from './qemu-peer.js';

const HOST_MAC = parseMac('fe:ff:ff:ff:ff:ff')!;
const GUEST_IP = parseIpv4('10.1.0.2')!;
const HOST_IP = parseIpv4('10.1.0.1')!;

function frameOf(len: number, fill = 0xab): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set(HOST_MAC, 0);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental ethertype: the stack ignores it
  return f;
}

/** Records every call the guest makes on its connection. */
function recording(calls: Array<{ op: string; path?: string; tx?: unknown }>, failCommits = 0) {
  return (xs: XsConnection): GuestXs => new Proxy(xs, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const op = String(prop);
        if (op === 'write' || op === 'read') calls.push({ op, path: args[0] as string, tx: args[2] ?? args[1] });
        else if (op === 'transactionEnd') calls.push({ op, tx: args[0] });
        if (op === 'transactionEnd' && args[1] === true && failCommits > 0) {
          const writes = calls.filter((c) => c.op === 'write' && c.tx === args[0]);
          if (writes.some((c) => c.path?.endsWith('/tx-ring-ref'))) {
            failCommits--;
            target.transactionEnd(args[0] as number, false);
            throw new XsError('EAGAIN', 'transaction commit (forced by the test)');
          }
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as GuestXs;
}

describe('netfront against a QEMU-like backend', function () {
  this.timeout(10000);
  let r: Rig;
  let peer: QemuPeer;
  let nf: Netfront;

  async function up(opts: Parameters<typeof rig>[0] = {}, peerOpts = {}): Promise<void> {
    r = await rig(opts);
    peer = r.peer(peerOpts);
    await connected(r, peer);
    nf = r.guest.vifs.get(0)!.netfront;
  }

  afterEach(async () => {
    for (const m of peer?.held.splice(0) ?? []) m.unmap();
    await r?.guest.stop();
  });

  describe('the xenbus handshake', () => {
    it('publishes rings, port and features together with state 4 in one transaction', async () => {
      const calls: Array<{ op: string; path?: string; tx?: unknown }> = [];
      await up({ wrap: recording(calls) });
      const keys = ['tx-ring-ref', 'rx-ring-ref', 'event-channel', 'request-rx-copy', 'feature-rx-notify', 'feature-sg',
        'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload', 'state'];
      const writes = calls.filter((c) => c.op === 'write' && keys.some((k) => c.path === `${peer.fe}/${k}`));
      expect(writes.map((c) => c.path!.split('/').pop())).to.deep.equal(keys);
      const tx = writes[0]!.tx;
      expect(tx).to.be.a('number').and.not.equal(0);
      expect(writes.every((c) => c.tx === tx)).to.equal(true);
      expect(peer.fe_read('request-rx-copy')).to.equal('1');
      expect(peer.fe_read('feature-rx-notify')).to.equal('1');
      // As Linux's netfront: multi-slot rx, GSO both families, IPv6 partial checksums.
      for (const key of ['feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6', 'feature-ipv6-csum-offload']) {
        expect(peer.fe_read(key), key).to.equal('1');
      }
    });

    it('grants both ring pages writable to the backend and offers it an unbound port', async () => {
      await up();
      for (const key of ['tx-ring-ref', 'rx-ring-ref']) {
        const e = r.domain.grants.readEntry(Number(peer.fe_read(key)));
        expect(e.domid).to.equal(0);
        expect(e.flags & GTF.permit_access).to.equal(GTF.permit_access);
        expect(e.flags & GTF.readonly).to.equal(0);
      }
      const port = r.platform.channels.info(GUEST_DOMID, Number(peer.fe_read('event-channel')));
      expect(port).to.include({ status: 'interdomain', remoteDomid: 0, remotePort: peer.port });
      // 256 rx buffers posted, each a writable grant to dom0.
      expect(nf.summary().rings!.rx.reqProd).to.equal(256);
    });

    it('retries the transaction on EAGAIN and still connects', async () => {
      const calls: Array<{ op: string; path?: string; tx?: unknown }> = [];
      await up({ wrap: recording(calls, 2) });
      const ringTxs = new Set(calls.filter((c) => c.op === 'write' && c.path === `${peer.fe}/tx-ring-ref`).map((c) => c.tx));
      expect(ringTxs.size).to.equal(3);
      expect(nf.state).to.equal(XenbusState.Connected);
    });

    it('refuses a backend without feature-rx-copy: error node, Closed, nothing held', async () => {
      r = await rig();
      peer = r.peer({ features: { 'feature-rx-flip': '0' } });
      await eventually(() => r.guest.vifs.get(0)?.netfront.state === XenbusState.Closed, 'frontend Closed');
      nf = r.guest.vifs.get(0)!.netfront;
      expect(r.xs.readString(`/local/domain/${GUEST_DOMID}/error/device/vif/0/error`))
        .to.equal('19 backend does not support copying receive path');
      expect(nf.error).to.equal('19 backend does not support copying receive path');
      expect(peer.fe_read('tx-ring-ref')).to.equal(undefined);
      expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
    });

    it('reads its MAC from the frontend directory', async () => {
      await up({}, { mac: '00:16:3e:12:34:56' });
      expect(nf.mac).to.equal('00:16:3e:12:34:56');
      expect(r.guest.summary().vifs[0]).to.deep.include({ devid: 0, mac: '00:16:3e:12:34:56', address: '10.1.0.2/24', state: 'Connected' });
    });

    it('announces itself with a gratuitous ARP once the backend is Connected', async () => {
      await up();
      await eventually(() => peer.received.length > 0, 'gratuitous ARP');
      const eth = decodeEthernet(peer.received[0]!.frame);
      if (!eth.ok) throw new Error(eth.message);
      expect(eth.value.etherType).to.equal(ETHERTYPE_ARP);
      const arp = decodeArp(eth.value.payload);
      if (!arp.ok) throw new Error(arp.message);
      expect(arp.value).to.deep.include({ op: ARP_OP_REQUEST, senderIp: GUEST_IP, targetIp: GUEST_IP });
    });
  });

  describe('the data path', () => {
    beforeEach(async () => {
      await up();
      await eventually(() => nf.counters.txPackets === 1, 'gratuitous ARP answered');
      peer.received.length = 0;
    });

    it('sends a frame the backend reads byte for byte, then ends the grant', async () => {
      const grantsBefore = r.held().grants;
      const frame = frameOf(1514);
      expect(nf.send(frame)).to.equal(true);
      await eventually(() => nf.counters.txPackets === 2, 'tx response');
      expect(Buffer.from(peer.received[0]!.frame).equals(Buffer.from(frame))).to.equal(true);
      expect(peer.received[0]!.flags).to.equal(0);
      expect(nf.counters).to.include({ txPackets: 2, txBytes: 42 + 1514, txErrors: 0 });
      expect(r.held().grants).to.equal(grantsBefore);
    });

    it('pushes the requests of frames sent in one go together, once the sending callback is over', async () => {
      const tx = () => nf.summary().rings!.tx;
      const before = tx().reqProd;
      for (let i = 0; i < 5; i++) expect(nf.send(frameOf(60 + i))).to.equal(true);
      expect(tx().reqProdPvt).to.equal(before + 5);
      expect(tx().reqProd).to.equal(before);
      await Promise.resolve();
      expect(tx().reqProd).to.equal(before + 5);
      await eventually(() => peer.received.length === 5, 'five frames');
      expect(peer.received.map((r) => r.frame.length)).to.deep.equal([60, 61, 62, 63, 64]);
    });

    it('marks checksum-offloaded frames csum_blank|data_validated', async () => {
      nf.send(frameOf(60), { csumBlank: true });
      await eventually(() => peer.received.length === 1, 'frame');
      expect(peer.received[0]!.flags).to.equal(NETTXF_csum_blank | NETTXF_data_validated);
    });

    it('says false when the tx ring is full, and true again once responses come back', async () => {
      peer.pauseTx = true;
      for (let i = 0; i < NET_TX_RING_SIZE; i++) expect(nf.send(frameOf(60)), `frame ${i}`).to.equal(true);
      expect(nf.send(frameOf(60))).to.equal(false);
      peer.pauseTx = false;
      peer.txPackets();
      await eventually(() => nf.counters.txPackets === 1 + NET_TX_RING_SIZE, 'all responses');
      expect(nf.send(frameOf(60))).to.equal(true);
      expect(nf.broken).to.equal(null);
    });

    it('says when responses free tx slots, so a sender the full ring refused can go on', async () => {
      let told = 0;
      nf.onTxSpace = () => { told++; };
      peer.pauseTx = true;
      while (nf.send(frameOf(60))) { /* fill the ring */ }
      expect(told).to.equal(0);
      peer.pauseTx = false;
      peer.txPackets();
      await eventually(() => told > 0, 'onTxSpace');
      expect(nf.send(frameOf(60))).to.equal(true);
    });

    it('collects answered slots inside send() without telling onTxSpace, so its frame leaves first', async () => {
      const order: number[] = [];
      const front = nf;
      front.onTxSpace = () => {
        order.push(2);
        front.send(frameOf(62));
      };
      peer.pauseTx = true;
      while (nf.send(frameOf(60))) { /* fill the ring */ }
      await Promise.resolve(); // the burst's push
      peer.pauseTx = false;
      peer.txPackets();
      // The answers are on the ring, their event not yet delivered: this send collects them.
      expect(nf.send(frameOf(61))).to.equal(true);
      order.push(1);
      expect(order).to.deep.equal([1]);
      peer.txPackets();
      await eventually(() => peer.received.some((r) => r.frame.length === 61), 'the frame');
      const lengths = peer.received.map((r) => r.frame.length).filter((l) => l !== 60);
      front.onTxSpace = null;
      expect(lengths[0]).to.equal(61);
    });

    it('refuses frames that do not fit one slot', () => {
      expect(() => nf.send(new Uint8Array(10))).to.throw(RangeError);
      expect(() => nf.send(new Uint8Array(4097))).to.throw(RangeError);
    });

    it('receives frames QEMU writes at offset 2 and reposts the buffer', async () => {
      const got: Uint8Array[] = [];
      nf.onFrame = (f) => got.push(f.slice()); // lent for the call
      const frame = frameOf(1000, 0x5a);
      expect(peer.deliver(frame)).to.equal(true);
      await eventually(() => got.length === 1, 'frame delivered');
      expect(Buffer.from(got[0]!).equals(Buffer.from(frame))).to.equal(true);
      expect(nf.counters).to.include({ rxPackets: 1, rxBytes: 1000, rxErrors: 0 });
      expect(nf.summary().rings!.rx.reqProd).to.equal(257);
    });

    it('recovers from a lost event when an operator kicks it', async () => {
      let got = 0;
      nf.onFrame = () => { got++; };
      peer.mute = true;
      peer.deliver(frameOf(60));
      await new Promise((res) => setTimeout(res, 10));
      expect(got).to.equal(0);
      peer.mute = false;
      nf.kick();
      expect(got).to.equal(1);
    });

    it('keeps receiving across many ring wraps', async () => {
      let n = 0;
      nf.onFrame = () => { n++; };
      for (let i = 0; i < 1000; i++) peer.deliver(frameOf(64 + (i % 100)));
      await eventually(() => n === 1000, '1000 frames');
      expect(nf.counters.rxErrors).to.equal(0);
    });

    it('answers ARP and ping from the host side through the rings', async () => {
      peer.deliver(arpFrame(HOST_MAC, BROADCAST_MAC, { op: ARP_OP_REQUEST, senderMac: HOST_MAC, senderIp: HOST_IP, targetMac: ZERO_MAC, targetIp: GUEST_IP }));
      await eventually(() => peer.received.length === 1, 'ARP reply');
      const arp = decodeArp(peer.received[0]!.frame.subarray(14));
      expect(arp.ok && arp.value.op).to.equal(ARP_OP_REPLY);
    });

    it('pings the host and gets every reply back', async () => {
      const host = new NetStack({ mac: 'fe:ff:ff:ff:ff:ff', send: (f) => peer.deliver(f) }, { address: HOST_IP, prefixLength: 24 });
      peer.onFrame = (f) => host.receive(f);
      const stack = r.guest.vifs.get(0)!.stack!;
      const result = await stack.ping(formatIpv4(HOST_IP), { count: 5, timeoutMs: 1000 });
      expect(result).to.deep.include({ sent: 5, received: 5 });
      expect(host.counters.echoRepliesOut).to.equal(5);
      const types = peer.received.map((f) => decodeEthernet(f.frame)).map((e) => e.ok && e.value.etherType);
      expect(types.filter((t) => t === ETHERTYPE_IPV4)).to.have.length(5);
      host.close();
    });
  });

  describe('raw tx requests (a misbehaving frontend, for backend tests)', () => {
    beforeEach(() => up());

    it('learns the status QEMU gives each malformed request, without breaking', async () => {
      expect((await nf.injectTx({ size: 10 })).status).to.equal(NETIF_RSP_ERROR);
      expect((await nf.injectTx({ gref: 3000, size: 60 })).status).to.equal(NETIF_RSP_ERROR);
      expect((await nf.injectTx({ offset: 4000, size: 200 })).status).to.equal(NETIF_RSP_ERROR);
      expect((await nf.injectTx({ size: 60, flags: NETTXF_more_data })).status).to.equal(NETIF_RSP_ERROR);
      expect((await nf.injectTx({ size: 60, data: frameOf(60) })).status).to.equal(NETIF_RSP_OKAY);
      expect(nf.counters.txErrors).to.equal(4);
      expect(nf.broken).to.equal(null);
      expect(nf.send(frameOf(60))).to.equal(true);
    });

    it('uses the id it is given and refuses one already pending', async () => {
      peer.pauseTx = true;
      const first = nf.injectTx({ id: 7, size: 60 });
      const again = await nf.injectTx({ id: 7, size: 60 }).catch((e: unknown) => e);
      expect(again).to.be.instanceOf(RangeError);
      peer.pauseTx = false;
      peer.txPackets();
      expect(await first).to.deep.equal({ id: 7, status: NETIF_RSP_OKAY });
    });

    it('pushes several slots with one notify', async () => {
      const [a, b] = await nf.injectTxBatch([{ size: 60, flags: NETTXF_more_data }, { size: 60 }]);
      expect(a!.status).to.equal(NETIF_RSP_ERROR);
      expect(b!.status).to.equal(NETIF_RSP_OKAY);
    });
  });

  describe("netfront's checks on what the backend sends", () => {
    beforeEach(async () => {
      await up();
      await eventually(() => nf.counters.txPackets === 1, 'gratuitous ARP answered');
    });

    it('breaks on an illegal number of tx responses', async () => {
      peer.setRspProd('tx', peer.tx!.rspProdPvt + 300);
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.match(/^Illegal number of responses on the tx ring: 300/);
      expect(nf.send(frameOf(60))).to.equal(false);
      expect(nf.counters.txDropped).to.equal(1);
    });

    it('breaks on a tx response for a request that is not pending', async () => {
      peer.rawTxResponse(5);
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.match(/^Response for inactive request/);
    });

    it('breaks on a tx response id outside the ring', async () => {
      peer.rawTxResponse(300);
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.equal('Response has incorrect id (300)');
    });

    it('ignores NETIF_RSP_NULL placeholders', async () => {
      peer.pauseTx = true;
      expect(nf.send(frameOf(60))).to.equal(true);
      const req = peer.consumeTxRequest();
      peer.rawTxResponse(5, NETIF_RSP_NULL);
      peer.rawTxResponse(req.id, NETIF_RSP_OKAY);
      await eventually(() => nf.counters.txPackets === 2, 'response');
      expect(nf.broken).to.equal(null);
    });

    it('breaks when the rx producer goes backwards', async () => {
      let got = 0;
      nf.onFrame = () => { got++; };
      peer.deliver(frameOf(60));
      await eventually(() => got === 1, 'frame');
      peer.setRspProd('rx', 0);
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.equal('Illegal number of responses on the rx ring: producer went backwards from 1 to 0');
    });

    it('drops rx responses with a negative status or running past the page, and carries on', async () => {
      const got: Uint8Array[] = [];
      nf.onFrame = (f) => got.push(f.slice()); // lent for the call
      peer.rawRxResponse({ offset: 0, status: NETIF_RSP_ERROR });
      peer.rawRxResponse({ offset: 4000, status: 200 });
      peer.deliver(frameOf(60, 0x11));
      await eventually(() => got.length === 1, 'good frame');
      expect(got[0]![20]).to.equal(0x11);
      expect(nf.counters).to.include({ rxErrors: 2, rxPackets: 1 });
      expect(nf.broken).to.equal(null);
      // The dropped slots' buffers went back on the ring: all 256 still posted.
      const rx = nf.summary().rings!.rx;
      expect(rx.reqProdPvt - rx.rspCons).to.equal(256);
    });

    it('accepts any offset the backend reports as long as it stays in the page', async () => {
      const got: Uint8Array[] = [];
      nf.onFrame = (f) => got.push(f.slice()); // lent for the call
      const frame = frameOf(96, 0x22);
      peer.rawRxResponse({ offset: 4000, status: 96, data: frame });
      await eventually(() => got.length === 1, 'frame');
      expect(Buffer.from(got[0]!).equals(Buffer.from(frame))).to.equal(true);
    });

    it('counts a frame handler that throws, and keeps going', async () => {
      let calls = 0;
      nf.onFrame = () => { calls++; throw new Error('stack bug'); };
      peer.deliver(frameOf(60));
      peer.deliver(frameOf(60));
      await eventually(() => calls === 2, 'both frames handed over');
      expect(nf.counters).to.include({ rxPackets: 2, rxDropped: 2 });
      expect(nf.broken).to.equal(null);
    });

    describe('multi-slot and extra-info packets (ready for feature-sg/gso)', () => {
      const gsoExtra = (type: number, flags = 0, size = 1448, gsoType = 1) =>
        Uint8Array.of(type, flags, size & 0xff, size >> 8, gsoType, 0, 0, 0);

      it('joins a more_data chain into one frame', async () => {
        const got: Uint8Array[] = [];
        nf.onFrame = (f) => got.push(f.slice()); // lent for the call
        const whole = frameOf(5000, 0x33);
        peer.rawRxSlots([
          { offset: 0, status: 4096, flags: NETRXF_more_data, data: whole.subarray(0, 4096) },
          { offset: 0, status: 904, data: whole.subarray(4096) },
        ]);
        await eventually(() => got.length === 1, 'frame');
        expect(Buffer.from(got[0]!).equals(Buffer.from(whole))).to.equal(true);
        expect(nf.counters).to.include({ rxMultiSlot: 1, rxGso: 0 });
        const rx = nf.summary().rings!.rx;
        expect(rx.reqProdPvt - rx.rspCons).to.equal(256);
      });

      it('hands over a valid GSO extra and recycles its slot', async () => {
        const got: Array<{ len: number; gso: unknown }> = [];
        nf.onFrame = (f, info) => got.push({ len: f.length, gso: info.gso });
        peer.rawRxSlots([{ offset: 0, status: 200, flags: NETRXF_extra_info, data: frameOf(200) }, { extra: gsoExtra(1) }]);
        await eventually(() => got.length === 1, 'frame');
        expect(got[0]).to.deep.equal({ len: 200, gso: { size: 1448, type: 1 } });
        expect(nf.counters).to.include({ rxMultiSlot: 0, rxGso: 1 });
        const rx = nf.summary().rings!.rx;
        expect(rx.reqProdPvt - rx.rspCons).to.equal(256);
      });

      it('drops packets with an invalid extra type, a zero GSO size or a missing extra', async () => {
        let got = 0;
        nf.onFrame = () => { got++; };
        peer.rawRxSlots([{ offset: 0, status: 60, flags: NETRXF_extra_info, data: frameOf(60) }, { extra: gsoExtra(9) }]);
        peer.rawRxSlots([{ offset: 0, status: 60, flags: NETRXF_extra_info, data: frameOf(60) }, { extra: gsoExtra(1, 0, 0) }]);
        peer.rawRxSlots([{ offset: 0, status: 60, flags: NETRXF_extra_info, data: frameOf(60) }, { extra: gsoExtra(1, 0, 1448, 3) }]);
        peer.rawRxSlots([{ offset: 0, status: 60, flags: NETRXF_extra_info, data: frameOf(60) }]);
        await eventually(() => nf.counters.rxErrors === 4, 'four drops');
        peer.deliver(frameOf(60));
        await eventually(() => got === 1, 'the next good frame');
        expect(nf.broken).to.equal(null);
      });

      it('lends a GSO packet lying in consecutive pages in place, the first slot moved into the extra\'s page', async () => {
        const got: Array<{ bytes: Uint8Array; shared: boolean }> = [];
        nf.onFrame = (f) => got.push({ bytes: f.slice(), shared: f.buffer instanceof SharedArrayBuffer });
        // As netback lays a GSO packet out: data at NET_IP_ALIGN, the extra, then whole pages.
        const asNetback = (f: Uint8Array) => [
          { offset: 2, status: 4094, flags: NETRXF_extra_info | NETRXF_more_data, data: f.subarray(0, 4094) },
          { extra: gsoExtra(1) },
          { offset: 0, status: 4096, flags: NETRXF_more_data, data: f.subarray(4094, 8190) },
          { offset: 0, status: f.length - 8190, data: f.subarray(8190) },
        ];
        const whole = frameOf(9094, 0x44);
        whole.forEach((_, i) => { if (i >= 14) whole[i] = i & 0xff; });
        peer.rawRxSlots(asNetback(whole));
        await eventually(() => got.length === 1, 'frame');
        expect(got[0]!.shared, 'the frame is the guest\'s pages').to.equal(true);
        expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(whole))).to.equal(true);
        const rx = nf.summary().rings!.rx;
        expect(rx.reqProdPvt - rx.rspCons).to.equal(256);
        // The pages went back under new grants: the next packet through the same slots is whole too.
        const again = frameOf(9094, 0x55);
        peer.rawRxSlots(asNetback(again));
        await eventually(() => got.length === 2, 'second frame');
        expect(Buffer.from(got[1]!.bytes).equals(Buffer.from(again))).to.equal(true);
      });

      it('copies a packet whose slots do not lie back to back', async () => {
        const got: Array<{ bytes: Uint8Array; shared: boolean }> = [];
        nf.onFrame = (f) => got.push({ bytes: f.slice(), shared: f.buffer instanceof SharedArrayBuffer });
        const whole = frameOf(3500, 0x66);
        peer.rawRxSlots([
          { offset: 100, status: 3000, flags: NETRXF_more_data, data: whole.subarray(0, 3000) },
          { offset: 0, status: 500, data: whole.subarray(3000) },
        ]);
        await eventually(() => got.length === 1, 'frame');
        expect(got[0]!.shared).to.equal(false);
        expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(whole))).to.equal(true);
      });

      it('drops a chain longer than 18 slots', async () => {
        const slots = Array.from({ length: 20 }, (_, i) => ({ offset: 0, status: 300, flags: i < 19 ? NETRXF_more_data : 0 }));
        peer.rawRxSlots(slots);
        await eventually(() => nf.counters.rxErrors === 1, 'drop');
        expect(nf.counters.rxPackets).to.equal(0);
      });
    });

    it('breaks when the backend still has an rx buffer mapped', async () => {
      peer.holdNextRxMapping = true;
      peer.deliver(frameOf(60));
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.match(/^Grant still in use by backend domain/);
    });

    it('breaks when the backend still has a tx buffer mapped', async () => {
      peer.holdNextTxMapping = true;
      nf.send(frameOf(60));
      await eventually(() => nf.broken !== null, 'broken');
      expect(nf.broken).to.match(/^Grant still in use by backend domain \(tx id/);
    });

    it('stays broken for good: later responses are not read', async () => {
      peer.rawTxResponse(9);
      await eventually(() => nf.broken !== null, 'broken');
      const got: Uint8Array[] = [];
      nf.onFrame = (f) => got.push(f.slice()); // lent for the call
      peer.deliver(frameOf(60));
      await new Promise((res) => setTimeout(res, 20));
      expect(got).to.have.length(0);
    });
  });

  describe('GSO on tx, with a backend that offers it', () => {
    beforeEach(async () => {
      await up({}, { features: { 'feature-rx-copy': '1', 'feature-sg': '1', 'feature-gso-tcpv4': '1' } });
      // The stack's gratuitous ARP goes out first; the tests read the ring from after it.
      await eventually(() => nf.counters.txPackets === 1, 'gratuitous ARP answered');
    });

    it('sends the first slot with extra_info, the GSO extra, then the data slots', async () => {
      expect(nf.gsoAvailable()).to.equal(true);
      const frame = frameOf(9000, 0x5a);
      expect(nf.send(frame, { csumBlank: true, gso: { size: 1448, type: 1 } })).to.equal(true);
      const first = peer.consumeTxRequest();
      expect(first.flags).to.equal(NETTXF_csum_blank | NETTXF_data_validated | NETTXF_extra_info | NETTXF_more_data);
      expect(first.size).to.equal(9000);
      // The extra slot, read as a request: type GSO, flags 0, size 1448 in the gref word; GSO type in offset.
      const extra = peer.consumeTxRequest();
      expect(extra.gref).to.equal((1 | (1448 << 16)) >>> 0);
      expect(extra.offset & 0xff).to.equal(1);
      const second = peer.consumeTxRequest();
      const third = peer.consumeTxRequest();
      expect([second.size, second.flags, third.size, third.flags]).to.deep.equal([4096, NETTXF_more_data, 9000 - 8192, 0]);
      expect(nf.counters).to.include({ txGso: 1, txGsoMaxBytes: 9000 });
    });

    it('refuses a GSO type the backend did not offer', () => {
      expect(nf.gsoAvailable(2)).to.equal(false);
      expect(() => nf.send(frameOf(3000), { gso: { size: 1448, type: 2 } })).to.throw(RangeError, /not negotiated/);
    });
  });

  describe('closing', () => {
    beforeEach(() => up());

    it('follows the backend through Closing to Closed and gives everything back', async () => {
      const states: number[] = [];
      nf.on('state', (s) => states.push(s));
      peer.unplug();
      await eventually(() => peer.state === XenbusState.Closed, 'backend Closed');
      expect(states).to.deep.equal([XenbusState.Closing, XenbusState.Closed]);
      await eventually(() => r.held().grants === 0, 'ring grants released');
      expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
      expect(nf.summary().deferredGrants).to.equal(0);
    });

    it('treats a backend jumping straight to Closed as a missed Closing', async () => {
      peer.disconnect();
      peer.setState(XenbusState.Closed);
      await eventually(() => nf.state === XenbusState.Closed, 'frontend Closed');
      expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
    });

    it('reconnects after a driver reload (Initialising while the backend is Closed)', async () => {
      peer.unplug();
      peer.xs.write(`${peer.be}/online`, '1');
      await eventually(() => peer.state === XenbusState.Closed && nf.state === XenbusState.Closed, 'both Closed');
      await nf.reconnect();
      await connected(r, peer);
      let got = 0;
      nf.onFrame = () => { got++; };
      peer.deliver(frameOf(60));
      await eventually(() => got === 1, 'frame after reconnect');
      expect(nf.send(frameOf(60))).to.equal(true);
    });

    it('closes in order when the guest stops, and the backend follows', async () => {
      await r.guest.stop();
      expect(peer.state).to.equal(XenbusState.Closed);
      expect(peer.feState()).to.equal(XenbusState.Closed);
      expect(r.held()).to.deep.equal({ grants: 0, pages: 0, ports: 0 });
    });
  });
});
