// Window scaling (RFC 7323) on the guest's TCP: offered back only when the peer's SYN carries
// it, a receive window of megabytes when it is, and the peer's scale applied to what it
// advertises when the guest sends.

import { expect } from 'chai';
import type { TcpConnection } from '../../src/guest/tcp.js';
import { ACK, PSH, SYN, tick, TcpRig, type PeerSegment, type SentSegment } from './tcp-peer.js';

const PEER_ISS = 5000;

async function open(rig: TcpRig, syn: Partial<PeerSegment>): Promise<{ synAck: SentSegment; guestNext: number }> {
  rig.send({ seq: PEER_ISS, flags: SYN, mss: 1460, ...syn });
  const [synAck] = rig.take();
  expect(synAck!.flags).to.equal(SYN | ACK);
  const guestNext = (synAck!.seq + 1) >>> 0;
  return { synAck: synAck!, guestNext };
}

describe('guest TCP: window scaling', () => {
  let rig: TcpRig;
  let conn: TcpConnection;
  let received: number;

  beforeEach(() => {
    rig = new TcpRig();
    received = 0;
    rig.tcp.listen(rig.guestPort, (c) => {
      conn = c;
      c.onData = (d) => { received += d.length; };
    });
  });
  afterEach(() => rig.tcp.close());

  it('answers a SYN with a window scale with its own and then advertises megabytes', async () => {
    const { synAck, guestNext } = await open(rig, { wscale: 7, window: 64240 });
    expect(synAck.wscale).to.equal(7);
    // A SYN-ACK's own window is never scaled.
    expect(synAck.window).to.be.at.most(65535);
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH, payload: new Uint8Array(100) });
    await tick();
    const [ack] = rig.take();
    expect(ack).to.include({ flags: ACK, ack: PEER_ISS + 101 });
    expect(ack!.window * 2 ** synAck.wscale!).to.be.at.least(2 * 1024 * 1024);
  });

  it('offers no scale to a peer whose SYN has none, and keeps to a 16-bit window', async () => {
    const { synAck, guestNext } = await open(rig, {});
    expect(synAck.wscale).to.equal(null);
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH, payload: new Uint8Array(100) });
    await tick();
    const [ack] = rig.take();
    expect(ack!.window).to.equal(65535);
  });

  it("sends up to the peer's window shifted by the peer's scale", async () => {
    const { guestNext } = await open(rig, { wscale: 2 });
    // 1000 << 2: the guest may have 4000 bytes in flight.
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK, window: 1000 });
    conn.write(new Uint8Array(10000));
    const sent = rig.take().reduce((n, s) => n + s.payload.length, 0);
    expect(sent).to.equal(4000);
    // The window opens by the ACK of all of it: another 4000.
    rig.send({ seq: PEER_ISS + 1, ack: guestNext + 4000, flags: ACK, window: 1000 });
    expect(rig.take().reduce((n, s) => n + s.payload.length, 0)).to.equal(4000);
  });

  it("takes an unscaled peer's window as it is", async () => {
    const { guestNext } = await open(rig, {});
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK, window: 1000 });
    conn.write(new Uint8Array(10000));
    expect(rig.take().reduce((n, s) => n + s.payload.length, 0)).to.equal(1000);
  });

  it('keeps data far beyond a hole within the scaled window, and delivers it once the hole is filled', async () => {
    const { guestNext } = await open(rig, { wscale: 7 });
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK });
    const far = 1024 * 1024;
    rig.send({ seq: PEER_ISS + 1 + far, ack: guestNext, flags: ACK | PSH, payload: new Uint8Array(1000) });
    expect(received).to.equal(0);
    rig.send({ seq: PEER_ISS + 1, ack: guestNext, flags: ACK | PSH, payload: new Uint8Array(far) });
    expect(received).to.equal(far + 1000);
    await tick();
    expect(rig.take().pop()).to.include({ ack: PEER_ISS + 1 + far + 1000 });
  });
});
