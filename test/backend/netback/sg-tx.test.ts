// feature-sg on tx: the backend advertises it, the guest's netfront then sends frames larger
// than a page as a chain of slots, and the backend gathers them whole (checked in a capture).

import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { XenNetDevice } from '../../../src/backend/netback/xen-net-device.js';
import { XenbusState } from '../../../src/protocol/xenbus.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { eventually } from '../../helpers/qmp-client.js';

describe('feature-sg: multi-slot tx from the guest', function () {
  this.timeout(20000);
  let t: TestApp;
  let dir: string;

  before(async () => {
    t = await startApp();
    dir = mkdtempSync(join(tmpdir(), 'vifd-sg-'));
  });
  after(async () => {
    await t?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('advertises feature-sg, and a 9000- and a 65535-byte frame arrive whole, each counted once', async () => {
    const { app } = t;
    app.devices.add({ driver: 'xen-net-device', id: 'nic0' });
    const vif = (await eventually(() => {
      const v = app.guests.get(1)?.vifs.get(0);
      return v?.netfront.state === XenbusState.Connected ? v : null;
    }, 10000, 'the vif to connect'))!;
    expect(app.platform.xs.readString('/local/domain/0/backend/qnic/1/0/feature-sg')).to.equal('1');
    const backend = app.bus.list()[0] as XenNetDevice;
    // The guest's own ARP announcement goes first; count from after it.
    await eventually(() => backend.stats.txPackets >= 1, 5000, 'the announcement');
    const base = { ...backend.stats };
    const guestBase = vif.netfront.summary().counters.txPackets;
    const file = join(dir, 'sg.pcap');
    backend.startCapture(file);
    const frames = [9000, 65535, 60].map((len, k) => {
      const f = new Uint8Array(len).map((_, i) => (i * 7 + k) & 0xff);
      f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
      f[12] = 0x88;
      f[13] = 0xb5;
      return f;
    });
    for (const f of frames) expect(vif.netfront.send(f)).to.equal(true);
    await eventually(() => backend.stats.txPackets - base.txPackets === 3, 5000, 'three packets through the backend');
    expect(backend.stats.txBytes - base.txBytes).to.equal(9000 + 65535 + 60);
    expect(backend.stats.txErrors).to.equal(0);
    await eventually(() => vif.netfront.summary().counters.txPackets - guestBase === 3, 5000, 'the guest to count three');
    expect(backend.stopCapture()).to.equal(3);

    // The pcap's records are the frames, in order, byte for byte.
    const pcap = readFileSync(file);
    const records: Buffer[] = [];
    for (let at = 24; at < pcap.length; at += 16 + pcap.readUInt32LE(at + 8)) {
      records.push(pcap.subarray(at + 16, at + 16 + pcap.readUInt32LE(at + 8)));
    }
    expect(records.map((r) => r.length)).to.deep.equal([9000, 65535, 60]);
    records.forEach((r, i) => expect(Buffer.compare(r, Buffer.from(frames[i]!))).to.equal(0));
  });
});
