// SACK (RFC 2018) on the guest's TCP: permitted back only when the peer's SYN permits it; as
// receiver, every ACK while data is held beyond a hole lists the held blocks (the latest
// arrival's first); as sender, the peer's blocks make it resend only the holes.

import { expect } from 'chai';
import type { TcpConnection } from '../../src/guest/tcp.js';
import { ACK, PSH, SYN, tick, TcpRig, type PeerSegment } from './tcp-peer.js';

const PEER_ISS = 7000;
const P = PEER_ISS + 1;

describe('guest TCP: SACK', () => {
  let rig: TcpRig;
  let conn: TcpConnection;
  let received: Uint8Array[];
  let guestNext: number;

  async function open(syn: Partial<PeerSegment>): Promise<void> {
    rig.send({ seq: PEER_ISS, flags: SYN, ...syn });
    const [synAck] = rig.take();
    expect(synAck!.flags).to.equal(SYN | ACK);
    expect(synAck!.sackPermitted).to.equal(syn.sackPermitted === true);
    guestNext = (synAck!.seq + 1) >>> 0;
    rig.send({ seq: P, ack: guestNext, flags: ACK });
    await tick();
    rig.take();
  }

  const data = (from: number, len: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (from + i) & 0xff);
  const bytes = (arr: Uint8Array[]): number[] => arr.flatMap((a) => [...a]);

  beforeEach(() => {
    rig = new TcpRig();
    received = [];
    rig.tcp.listen(rig.guestPort, (c) => {
      conn = c;
      c.onData = (d) => received.push(Uint8Array.from(d));
    });
  });
  afterEach(() => rig.tcp.close());

  describe('as receiver', () => {
    const deliver = (off: number, len: number) =>
      rig.send({ seq: P + off, ack: guestNext, flags: ACK | PSH, payload: data(off, len) });

    it('reports out-of-order data in SACK blocks, the latest arrival first, until the hole is filled', async () => {
      await open({ mss: 1000, sackPermitted: true });
      deliver(1000, 1000);
      await tick();
      let [ack] = rig.take();
      expect(ack).to.include({ ack: P });
      expect(ack!.sack).to.deep.equal([[P + 1000, P + 2000]]);

      deliver(3000, 1000);
      await tick();
      [ack] = rig.take();
      expect(ack!.sack).to.deep.equal([[P + 3000, P + 4000], [P + 1000, P + 2000]]);

      // Between the two: one block now.
      deliver(2000, 1000);
      await tick();
      [ack] = rig.take();
      expect(ack!.sack).to.deep.equal([[P + 1000, P + 4000]]);
      expect(received).to.have.length(0);

      deliver(0, 1000);
      await tick();
      const acks = rig.take();
      expect(acks).to.have.length(1);
      expect(acks[0]).to.include({ ack: P + 4000 });
      expect(acks[0]!.sack).to.deep.equal([]);
      expect(bytes(received)).to.deep.equal(bytes([data(0, 4000)]));
    });

    it('answers a batch with one ACK: a hole filled within the batch (frames reordered) shows none', async () => {
      await open({ mss: 1000, sackPermitted: true });
      deliver(1000, 1000);
      deliver(2000, 1000);
      deliver(0, 1000);
      deliver(4000, 1000);
      await tick();
      const acks = rig.take();
      expect(acks).to.have.length(1);
      expect(acks[0]).to.include({ ack: P + 3000 });
      expect(acks[0]!.sack).to.deep.equal([[P + 4000, P + 5000]]);
    });

    it('fits a retransmission cut differently from the original around what it holds', async () => {
      await open({ mss: 1000, sackPermitted: true });
      deliver(1000, 500);
      deliver(2000, 1000);
      rig.take();
      // The peer resends [0, 2500) in one piece: the overlap is not delivered twice.
      deliver(0, 2500);
      expect(bytes(received)).to.deep.equal(bytes([data(0, 3000)]));
    });

    it('sends a peer that did not permit SACK a duplicate ACK at once, without blocks', async () => {
      await open({ mss: 1000 });
      deliver(1000, 1000);
      // Not waiting for the batch: the peer's fast retransmit counts duplicates.
      const [ack] = rig.take();
      expect(ack).to.include({ ack: P });
      expect(ack!.sack).to.deep.equal([]);
    });
  });

  describe('as sender', () => {
    /** The guest sends 10 segments of 1000; returns their sequence numbers. */
    async function sendTen(sackPermitted: boolean): Promise<number[]> {
      await open({ mss: 1000, sackPermitted, window: 65535 });
      conn.write(data(0, 10000));
      const out = rig.take();
      expect(out.map((s) => s.payload.length)).to.deep.equal(Array(10).fill(1000));
      return out.map((s) => s.seq);
    }
    const dupAck = (sack?: Array<[number, number]>) => rig.send({ seq: P, ack: guestNext + 1000, flags: ACK, ...(sack ? { sack } : {}) });

    it('resends only the hole the SACK blocks leave', async () => {
      const seqs = await sendTen(true);
      expect(seqs[0]).to.equal(guestNext);
      rig.send({ seq: P, ack: guestNext + 1000, flags: ACK });
      // The segment at 1000 was lost; the peer holds 2000..10000.
      dupAck([[guestNext + 2000, guestNext + 4000]]);
      dupAck([[guestNext + 2000, guestNext + 7000]]);
      dupAck([[guestNext + 2000, guestNext + 10000]]);
      const resent = rig.take();
      expect(resent.map((s) => [s.seq - guestNext, s.payload.length])).to.deep.equal([[1000, 1000]]);
      expect(bytes(resent.map((s) => s.payload))).to.deep.equal(bytes([data(1000, 1000)]));
      rig.send({ seq: P, ack: guestNext + 10000, flags: ACK });
      expect(rig.take()).to.deep.equal([]);
      expect(conn.stats.retransmits).to.be.greaterThan(0);
    });

    it('resends each of several holes once, and the next after a partial ACK', async () => {
      await sendTen(true);
      const blocks: Array<[number, number]> = [[guestNext + 5000, guestNext + 6000], [guestNext + 2000, guestNext + 4000]];
      dupAck(blocks);
      dupAck([[guestNext + 7000, guestNext + 10000], ...blocks]);
      dupAck([[guestNext + 7000, guestNext + 10000], ...blocks]);
      // Holes: 1000..2000, 4000..5000, 6000..7000 (the ACK is at 1000).
      expect(rig.take().map((s) => [s.seq - guestNext, s.payload.length])).to.deep.equal(
        [[1000, 1000], [4000, 1000], [6000, 1000]]);
      dupAck([[guestNext + 7000, guestNext + 10000], ...blocks]);
      expect(rig.take()).to.deep.equal([]);
      // The retransmission of 1000 arrived; 4000..5000's resend was lost again: the timeout's business.
      rig.send({ seq: P, ack: guestNext + 4000, flags: ACK, sack: [[guestNext + 5000, guestNext + 10000]] });
      expect(rig.take()).to.deep.equal([]);
    });

    it('goes back to the first unacknowledged byte without SACK', async () => {
      await sendTen(false);
      // The first ACK moves sndUna to 1000; three duplicates of it follow.
      for (let i = 0; i < 4; i++) dupAck();
      const resent = rig.take().map((s) => s.seq - guestNext);
      expect(resent).to.deep.equal([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    });
  });
});
