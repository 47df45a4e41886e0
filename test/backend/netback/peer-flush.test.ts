// A vif hands the frames of one tx sweep to a batching host-side client and flushes it once at
// the end of the sweep; what the flush reports as dropped shows in the vif's tx_dropped.

import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameReceiver, NetClient } from '../../../src/backend/net/net-client.js';
import type { XenNetDevice } from '../../../src/backend/netback/xen-net-device.js';
import { XenbusState } from '../../../src/protocol/xenbus.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { eventually } from '../../helpers/qmp-client.js';

/** Records sends and flushes; a frame whose byte 14 is 0xdd is "dropped" by the flush. */
class BatchingPeer implements NetClient {
  readonly type = 'batching';
  readonly log: string[] = [];
  /** Every frame it was given, as it was at send(). */
  readonly kept: Uint8Array[] = [];
  private held: Uint8Array[] = [];
  constructor(readonly id: string) {}
  setReceiver(_fn: FrameReceiver | null): void {}
  send(frame: Uint8Array): boolean {
    // Frames are lent for the call: a peer holding them keeps copies.
    this.held.push(frame.slice());
    this.kept.push(frame.slice());
    this.log.push(`send ${frame[14]}`);
    return true;
  }
  flush(): number {
    if (this.held.length === 0) return 0;
    const dropped = this.held.filter((f) => f[14] === 0xdd).length;
    this.log.push(`flush ${this.held.length} dropped ${dropped}`);
    this.held = [];
    return dropped;
  }
  describe(): string { return 'batching'; }
  close(): void {}
}

describe('a vif with a batching host-side client', () => {
  let t: TestApp;
  let peer: BatchingPeer;

  before(async () => {
    t = await startApp([], { createTap: (ifname) => (peer = new BatchingPeer(ifname)) });
  });
  after(async () => t?.stop());

  it('flushes once per sweep, after the sweep\'s frames, and counts the drops the flush reports', async () => {
    t.app.devices.add({ driver: 'xen-net-device', id: 'nic0' });
    const backend = t.app.bus.list().find((d) => !d.destroyed) as XenNetDevice;
    const guest = t.app.guests.get(1)!;
    await eventually(() => backend.backendState === XenbusState.Connected &&
      guest.vifs.get(backend.address.devid)?.netfront.state === XenbusState.Connected);
    const nf = guest.vifs.get(backend.address.devid)!.netfront;
    // The guest announces itself once connected (netdev_notify_peers): let that go by first.
    await eventually(() => backend.stats.txPackets > 0);
    await new Promise((r) => setTimeout(r, 100));
    const before = backend.stats.txPackets;
    peer.log.length = 0;
    for (const tag of [1, 0xdd, 3, 0xdd, 5]) {
      const f = new Uint8Array(60).fill(0xff, 0, 6);
      f[14] = tag;
      expect(nf.send(f)).to.equal(true);
    }
    await eventually(() => backend.stats.txPackets === before + 5);
    expect(peer.log).to.deep.equal(['send 1', 'send 221', 'send 3', 'send 221', 'send 5', 'flush 5 dropped 2']);
    expect(backend.stats.txDropped).to.equal(2);
  });

  it('shows the capture and the peer every frame of a sweep as the guest sent it, though tx lends one buffer', async () => {
    const backend = t.app.bus.list().find((d) => !d.destroyed) as XenNetDevice;
    const nf = t.app.guests.get(1)!.vifs.get(backend.address.devid)!.netfront;
    const dir = mkdtempSync(join(tmpdir(), 'vifd-lent-'));
    try {
      const file = join(dir, 'lent.pcap');
      backend.startCapture(file);
      peer.kept.length = 0;
      const before = backend.stats.txPackets;
      // Sizes going up and down, so a shorter frame follows a longer one in the same buffer.
      const frames = Array.from({ length: 100 }, (_, k) => {
        const f = new Uint8Array([60, 1514, 200, 61][k % 4]!).map((_, i) => (i * 3 + k) & 0xff);
        f.fill(0xff, 0, 6);
        f[14] = k;
        return f;
      });
      for (const f of frames) expect(nf.send(f)).to.equal(true);
      await eventually(() => backend.stats.txPackets === before + frames.length);
      expect(backend.stopCapture()).to.equal(frames.length);
      const pcap = readFileSync(file);
      const records: Buffer[] = [];
      for (let at = 24; at < pcap.length; at += 16 + pcap.readUInt32LE(at + 8)) {
        records.push(pcap.subarray(at + 16, at + 16 + pcap.readUInt32LE(at + 8)));
      }
      const same = (got: Uint8Array[]) => got.map((g, i) => Buffer.compare(Buffer.from(g), Buffer.from(frames[i]!)));
      expect(same(records)).to.deep.equal(frames.map(() => 0));
      expect(same(peer.kept)).to.deep.equal(frames.map(() => 0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
