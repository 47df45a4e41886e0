// Closing the guest's TCP connections (RFC 793, RFC 1122): whichever side closes first, a
// segment that arrives after both FINs meets no RST; the side that closed first waits in
// TIME_WAIT and re-acknowledges a retransmitted FIN; the ports are free again afterwards.

import { expect } from 'chai';
import type { TcpConnection } from '../../src/guest/tcp.js';
import { ACK, FIN, PSH, RST, SYN, sleep, tick, TcpRig } from './tcp-peer.js';

const PEER_ISS = 1000;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A connection to `port` on a fresh rig, through the handshake; returns the guest's ISS + 1. */
async function connected(rig: TcpRig): Promise<number> {
  rig.send({ seq: PEER_ISS, flags: SYN, mss: 1460 });
  const [synAck] = rig.take();
  expect(synAck!.flags).to.equal(SYN | ACK);
  const guestNext = (synAck!.seq + 1) >>> 0;
  rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK });
  await tick();
  return guestNext;
}

describe('guest TCP: closing', () => {
  describe('when the guest closes first (TIME_WAIT)', () => {
    let rig: TcpRig;
    let conn: TcpConnection;
    let closed: Array<string | null>;
    let guestNext: number;

    beforeEach(async () => {
      rig = new TcpRig(40000, 5002);
      rig.tcp.timeWaitMs = 80;
      closed = [];
      rig.tcp.listen(5002, (c) => {
        conn = c;
        c.write(enc('hello'));
        c.end();
        c.onClose = (e) => closed.push(e);
      });
      guestNext = await connected(rig);
      const out = rig.take();
      expect(out.map((s) => s.flags)).to.deep.equal([ACK | PSH, FIN | ACK]);
      expect(out[1]!.seq).to.equal(guestNext + 5);
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 6, flags: ACK });
      expect(conn.state).to.equal('FIN_WAIT_2');
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 6, flags: FIN | ACK });
      await tick();
      const [finAck] = rig.take();
      expect(finAck).to.include({ flags: ACK, ack: PEER_ISS + 2 });
    });
    afterEach(() => rig.tcp.close());

    it('reports the connection closed and holds its ports in TIME_WAIT', () => {
      expect(conn.state).to.equal('TIME_WAIT');
      expect(closed).to.deep.equal([null]);
      expect(rig.tcp.connections).to.equal(0);
    });

    it('acknowledges a retransmitted FIN again', async () => {
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 6, flags: FIN | ACK });
      await tick();
      const out = rig.take();
      expect(out).to.have.length(1);
      expect(out[0]).to.include({ flags: ACK, seq: guestNext + 6, ack: PEER_ISS + 2 });
      expect(rig.tcp.resets).to.equal(0);
    });

    it('drops a late duplicate and an RST without answering', async () => {
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 5, flags: ACK });
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 6, flags: RST });
      await tick();
      expect(rig.take()).to.deep.equal([]);
      expect(rig.tcp.resets).to.equal(0);
      expect(conn.state).to.equal('TIME_WAIT');
    });

    it('frees the ports when TIME_WAIT expires: only then does a stray segment get an RST', async () => {
      await sleep(150);
      expect(conn.state).to.equal('CLOSED');
      rig.send({ seq: PEER_ISS + 2, ack: guestNext + 6, flags: ACK });
      const out = rig.take();
      expect(out).to.have.length(1);
      expect(out[0]!.flags & RST).to.equal(RST);
      expect(rig.tcp.resets).to.equal(1);
    });

    it('a retransmitted FIN restarts the wait', async () => {
      await sleep(50);
      rig.send({ seq: PEER_ISS + 1, ack: guestNext + 6, flags: FIN | ACK });
      await sleep(50);
      expect(conn.state).to.equal('TIME_WAIT');
      await sleep(80);
      expect(conn.state).to.equal('CLOSED');
    });

    it('lets a new SYN beyond the old stream reuse the ports at once', () => {
      const old = conn;
      rig.take();
      rig.send({ seq: PEER_ISS + 100000, flags: SYN, mss: 1460 });
      const out = rig.take();
      expect(out).to.have.length(1);
      expect(out[0]!.flags).to.equal(SYN | ACK);
      expect(out[0]!.ack).to.equal(PEER_ISS + 100001);
      expect(old.state).to.equal('CLOSED');
      expect(conn).to.not.equal(old);
      expect(rig.tcp.connections).to.equal(1);
    });
  });

  describe('when the peer closes first (LAST_ACK)', () => {
    let rig: TcpRig;
    let conn: TcpConnection;
    let closed: Array<string | null>;
    let guestNext: number;
    let received: string;

    beforeEach(async () => {
      rig = new TcpRig(40001, 5001);
      rig.tcp.timeWaitMs = 80;
      closed = [];
      received = '';
      rig.tcp.listen(5001, (c) => {
        conn = c;
        c.onData = (d) => { received += new TextDecoder().decode(d); };
        c.onEnd = () => c.end();
        c.onClose = (e) => closed.push(e);
      });
      guestNext = await connected(rig);
      rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH | FIN, payload: enc('abc') });
      expect(conn.state).to.equal('LAST_ACK');
      await tick();
      const out = rig.take();
      expect(out.find((s) => s.flags & FIN)).to.include({ seq: guestNext, ack: PEER_ISS + 5 });
      rig.send({ seq: PEER_ISS + 5, ack: guestNext + 1, flags: ACK });
      await tick();
      rig.take();
    });
    afterEach(() => rig.tcp.close());

    it('is closed once its FIN is acknowledged', () => {
      expect(received).to.equal('abc');
      expect(conn.state).to.equal('CLOSED');
      expect(closed).to.deep.equal([null]);
      expect(rig.tcp.connections).to.equal(0);
    });

    it('drops late duplicates of data, FIN and ACK silently', async () => {
      rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH, payload: enc('abc') });
      rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH | FIN, payload: enc('abc') });
      rig.send({ seq: PEER_ISS + 5, ack: guestNext + 1, flags: ACK });
      await tick();
      expect(rig.take()).to.deep.equal([]);
      expect(rig.tcp.resets).to.equal(0);
      expect(received).to.equal('abc');
    });

    it('frees the ports after the wait', async () => {
      await sleep(150);
      rig.send({ seq: PEER_ISS + 5, ack: guestNext + 1, flags: ACK });
      expect(rig.take().map((s) => s.flags & RST)).to.deep.equal([RST]);
      expect(rig.tcp.resets).to.equal(1);
    });
  });

  it("acknowledges the peer's FIN as soon as a full link has room, and reports the close only then", async () => {
    const rig = new TcpRig(40004, 5002);
    let conn: TcpConnection | undefined;
    const closed: Array<string | null> = [];
    rig.tcp.listen(5002, (c) => {
      conn = c;
      c.write(enc('bye'));
      c.end();
      c.onClose = (e) => closed.push(e);
    });
    const guestNext = await connected(rig);
    rig.take();
    rig.send({ seq: PEER_ISS + 1, ack: guestNext + 4, flags: ACK });
    // The tx ring is full when the peer's FIN comes.
    rig.link.accept = false;
    rig.send({ seq: PEER_ISS + 1, ack: guestNext + 4, flags: FIN | ACK });
    await tick();
    expect(conn!.state).to.equal('TIME_WAIT');
    expect(rig.take()).to.deep.equal([]);
    expect(closed).to.deep.equal([]);
    rig.link.accept = true;
    rig.stack.writable();
    const out = rig.take();
    expect(out).to.have.length(1);
    expect(out[0]).to.include({ flags: ACK, seq: guestNext + 4, ack: PEER_ISS + 2 });
    expect(closed).to.deep.equal([null]);
    rig.tcp.close();
  });

  it('still answers a segment for a connection it never had with an RST', () => {
    const rig = new TcpRig(40002, 5001);
    rig.send({ seq: 5, ack: 77, flags: ACK });
    const out = rig.take();
    expect(out).to.have.length(1);
    expect(out[0]).to.include({ flags: RST, seq: 77 });
    expect(rig.tcp.resets).to.equal(1);
  });

  it('closes at once on a reset, without lingering', async () => {
    const rig = new TcpRig(40003, 5001);
    let err: string | null | undefined;
    rig.tcp.listen(5001, (c) => { c.onClose = (e) => { err = e; }; });
    const guestNext = await connected(rig);
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: RST });
    expect(err).to.equal('connection reset by peer');
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK });
    expect(rig.take().map((s) => s.flags)).to.deep.equal([RST]);
  });
});
