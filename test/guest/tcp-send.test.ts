// The guest's TCP send path against a link that refuses frames for a while (a full tx ring):
// nothing is lost or counted as a retransmission, and the send resumes as soon as the link
// says it has room, not on a timer.

import { expect } from 'chai';
import type { TcpConnection } from '../../src/guest/tcp.js';
import { ACK, SYN, sleep, tick, TcpRig } from './tcp-peer.js';

const PEER_ISS = 9000;

describe('guest TCP: sending into a full link', () => {
  let rig: TcpRig;
  let conn: TcpConnection;
  let guestNext: number;

  beforeEach(async () => {
    rig = new TcpRig();
    rig.tcp.listen(rig.guestPort, (c) => { conn = c; });
    rig.send({ seq: PEER_ISS, flags: SYN, mss: 1000 });
    guestNext = (rig.take()[0]!.seq + 1) >>> 0;
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK });
    await tick();
    rig.take();
  });
  afterEach(() => rig.tcp.close());

  it('sends what the link refused as soon as the link has room', () => {
    rig.link.accept = false;
    conn.write(new Uint8Array(3000));
    expect(rig.take()).to.deep.equal([]);
    rig.link.accept = true;
    rig.stack.writable();
    expect(rig.take().map((s) => s.seq - guestNext)).to.deep.equal([0, 1000, 2000]);
    expect(conn.stats.retransmits).to.equal(0);
  });

  it('sends an ACK the link refused once it has room, rather than leaving the peer to time out', async () => {
    rig.link.accept = false;
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK, payload: new Uint8Array(500) });
    await tick();
    expect(rig.take()).to.deep.equal([]);
    rig.link.accept = true;
    rig.stack.writable();
    expect(rig.take().map((s) => [s.flags, s.ack])).to.deep.equal([[ACK, PEER_ISS + 501]]);
  });

  it('still tries again on its own when the link never says so', async () => {
    rig.link.accept = false;
    conn.write(new Uint8Array(2000));
    rig.link.accept = true;
    await sleep(20);
    expect(rig.take().map((s) => s.seq - guestNext)).to.deep.equal([0, 1000]);
  });
});
